#!/usr/bin/python3
"""Reference renderer: Jinja2 with jinjanator's settings.

Usage: jinja_render.py [--out DIR] ROOT DATA.json|DATA.yaml TEMPLATE...
Template names resolve against ROOT, like jinjanator's working directory.
Prints a JSON list of {"name", "ok", "out", "err"}, one per template; with
--out, writes each output to DIR/NAME (without .j2) instead and prints the
number of files written.
Run it with Debian's /usr/bin/python3 (python3-jinja2).
"""
import copy
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
    args = sys.argv[1:]
    out_dir = None
    if args[:1] == ["--out"]:
        out_dir, args = args[1], args[2:]
    root, data_file, names = args[0], args[1], args[2:]
    with open(data_file, encoding="utf-8") as f:
        if data_file.endswith((".yaml", ".yml")):
            import yaml  # python3-yaml; jinjanator reads YAML with safe_load

            context = yaml.safe_load(f)
        else:
            context = json.load(f)
    env = jinja2.Environment(
        loader=FilePathLoader(root),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"],
        autoescape=False,
    )
    sys.setrecursionlimit(2000)
    if out_dir is not None:
        for name in names:
            out = env.get_template(name).render(context)
            base = os.path.basename(name)
            if base.endswith(".j2"):
                base = base[:-3]
            with open(os.path.join(out_dir, base), "w", encoding="utf-8") as f:
                f.write(out)
        print(len(names))
        return
    results = []
    for name in names:
        try:
            # each template gets its own copy: {% do x.append() %} changes data
            out = env.get_template(name).render(copy.deepcopy(context))
            results.append({"name": name, "ok": True, "out": out, "err": ""})
        except (Exception, RecursionError) as e:  # every failure is a result
            results.append({"name": name, "ok": False, "out": "", "err": "%s: %s" % (type(e).__name__, e)})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
