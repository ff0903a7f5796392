import os

os.environ.setdefault("DVC_NO_ANALYTICS", "1")
