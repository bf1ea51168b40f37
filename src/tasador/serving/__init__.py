"""The inference API: serves the model that holds the registry alias `production`.

`schemas` (request and answer shapes), `model_holder` (the served model and following the alias),
`explain` (exact TreeSHAP per feature and per input field), `metrics` (Prometheus, `tasador_*`),
`inference_log` (every request to RAW DATA, off the request path), `app` (the FastAPI factory),
`openmp` (XGBoost's threads wait asleep). `tasador serve` runs it with uvicorn, one worker per
process.
"""
