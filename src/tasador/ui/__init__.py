"""The Streamlit UI: prices a home, explains the price, and shows the loop's history.

It talks only to the inference API, through `client.ApiClient`, and shows the API's own answers
(`serving.api_models`, `serving.history_models`). `app` is the entry point (`streamlit run`);
`views/` holds one module per page, each a `render(client)`; `charts` builds the Altair charts and
`words` the plain-words text, both pure and tested without Streamlit.
"""
