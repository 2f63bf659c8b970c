"""Trialdesk: an open-source Clinical Trial Management System."""

__version__ = "0.1.0"
