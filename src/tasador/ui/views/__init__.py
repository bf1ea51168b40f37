"""The UI's pages, one module each, each a `render(client)` that `ui.app` puts in the navigation
(and the tests drive directly).

Not named `pages/`: Streamlit takes a `pages/` folder beside the entry script for file-based pages,
whose names would collide with the navigation's own.
"""
