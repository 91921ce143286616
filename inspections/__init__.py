"""The inspection domain: models and services. Never imports Flask or server/."""
