"""Small synthetic data sets for ``symgrad train``, made by make_data.py."""
