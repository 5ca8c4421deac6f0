"""Services of the review app: the review queue fed by feedback (:mod:`.queue`) and admin replays (:mod:`.replay`)."""
