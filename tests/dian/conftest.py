"""Fixtures shared by the API tests: ``fake_frontend`` (defined in test_api.py) for test_api_accel.py too."""

from test_api import fake_frontend

__all__ = ["fake_frontend"]
