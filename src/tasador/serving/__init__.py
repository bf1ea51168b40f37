"""The inference API: serves the model that holds the registry alias `production`.

`app` assembles; `routes/` holds the routers (service, model, prediction); `deps` and `state` what
they share; `api_models` the request and answer shapes (the listing derived from
`schema.LISTING_INPUTS`); `body_reader` and `columnar` turn bodies into columns; `responses` writes
answers; `model_holder` follows the alias; `batching` shares booster calls; `explain` gives exact
TreeSHAP; `metrics` and `middleware` count; `inference_log` writes every request to RAW DATA off
the request path; `main` builds the app from settings for `tasador serve` and `uvicorn --factory`.
"""
