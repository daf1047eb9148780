"""``bqmanage import``: definitions written from what is live."""
