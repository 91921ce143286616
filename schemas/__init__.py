"""Marshmallow wire formats: the API and mobile contract, written by hand (never from ORM models)."""
