"""The only code that talks to MLflow: logging, registration, promotion and its application."""
