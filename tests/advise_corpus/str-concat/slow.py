"""Builds an HTML table by adding each row to a string attribute (advise
corpus: str-concat, slow): every `+=` copies the whole page so far."""
import sys


class Page:
    def __init__(self):
        self.html = "<table>\n"

    def render(self, rows):
        for i, row in enumerate(rows):
            self.html += f"<tr><td>{i}</td><td>{row}</td></tr>\n"
        self.html += "</table>\n"


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 12_000
    page = Page()
    page.render([f"item {i * 31 % 1000:04d}" for i in range(n)])
    print(len(page.html), page.html[-60:].replace("\n", " "))


main()
