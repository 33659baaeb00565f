"""The fake course is copied to a temporary folder and run there by tests/test_kata_plugin.py."""

collect_ignore_glob = ["*"]
