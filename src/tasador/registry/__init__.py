"""The only code that talks to MLflow: logging, registration, the promotion rule and its application."""
