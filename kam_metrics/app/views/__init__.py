"""One module per page, named after it: the tiles and tables that page shows (pages/3_Share_of_wallet.py ↔ share_of_wallet.py)."""
