"""`tunewise demo`: the whole journey offline on examples/, its stage record and its HTML report."""
