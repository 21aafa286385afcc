"""The analysts' workbench (`reviewtag serve`): a local web page over the same tagging and
corrections code as the CLI, so a label fixed on the page is a line the next `dvc repro` learns from.

Server-rendered (Starlette + Jinja2, a few lines of plain JavaScript, no build step): `pip install`
stays the whole set-up, and every page works as plain HTML forms.
"""
