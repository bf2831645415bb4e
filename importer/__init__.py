"""Spreadsheet imports: read the file, check every row, issue the good ones."""
