#!/usr/bin/python3
"""Reference renderer: Jinja2 with jinjanator's settings.

Usage: jinja_render.py ROOT DATA.json TEMPLATE...
Template names resolve against ROOT, like jinjanator's working directory.
Prints a JSON list of {"name", "ok", "out", "err"}, one per template.
Run it with Debian's /usr/bin/python3 (python3-jinja2).
"""
import json
import os
import sys

import jinja2


class FilePathLoader(jinja2.BaseLoader):
    """jinjanator's loader: names are paths relative to one folder."""

    def __init__(self, cwd):
        self.cwd = cwd

    def get_source(self, environment, template):
        path = os.path.join(self.cwd, template)
        try:
            with open(path, encoding="utf-8") as f:
                contents = f.read()
        except FileNotFoundError:
            raise jinja2.TemplateNotFound(template)
        mtime = os.path.getmtime(path)
        return contents, path, lambda: mtime == os.path.getmtime(path)


def main():
    root, data_file, names = sys.argv[1], sys.argv[2], sys.argv[3:]
    with open(data_file, encoding="utf-8") as f:
        context = json.load(f)
    env = jinja2.Environment(
        loader=FilePathLoader(root),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"],
        autoescape=False,
    )
    sys.setrecursionlimit(2000)
    results = []
    for name in names:
        try:
            out = env.get_template(name).render(context)
            results.append({"name": name, "ok": True, "out": out, "err": ""})
        except (Exception, RecursionError) as e:  # every failure is a result
            results.append({"name": name, "ok": False, "out": "", "err": "%s: %s" % (type(e).__name__, e)})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
