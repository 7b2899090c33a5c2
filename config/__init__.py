"""Configuration profiles and settings models."""
