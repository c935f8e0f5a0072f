"""One module per command; `mlcli.cli` parses and calls them."""
