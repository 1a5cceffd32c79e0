"""Builds an HTML table by collecting the rows and joining them once (advise
corpus: str-concat, fast)."""
import sys


class Page:
    def __init__(self):
        self.html = "<table>\n"

    def render(self, rows):
        parts = [f"<tr><td>{i}</td><td>{row}</td></tr>\n" for i, row in enumerate(rows)]
        self.html += "".join(parts)
        self.html += "</table>\n"


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 12_000
    page = Page()
    page.render([f"item {i * 31 % 1000:04d}" for i in range(n)])
    print(len(page.html), page.html[-60:].replace("\n", " "))


main()
