"""Built-in reporters beyond JSON (html, markdown, junit) and the report/diff commands. (issue 6)"""
