"""Reading, cleaning and splitting user–item interactions."""
