"""The comparison's report: results.json rendered to Markdown, HTML and PNG charts, with
ratios and their 95 % intervals across rounds."""
