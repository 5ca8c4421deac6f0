"""Template tags of the review app (loaded as ``review_admin`` by the admin templates)."""
