#!/usr/bin/env python3
"""Checks of a `downstream report` page in a real browser, for tests/cli/test_report.sh (Python's
standard library only):
  dom  DOM_FILE         the DOM Chromium built (--dump-dom): every chart's <path class="series"> has
                        as many points in its d attribute as data-points says and at least 2 for the
                        training curves (loss, learning rate, throughput), the heat map has K x K
                        cells whose counts sum to the test examples, the sample rows are there, and
                        nothing is loaded from elsewhere (no script, link, iframe or remote src)
  png  PNG_FILE W H     the screenshot (Chromium's, 8-bit RGB/RGBA, not interlaced): W x H pixels,
                        not blank (more than 2% of the pixels are not near-white; a blank page has 0%, this report about 4%), and the chart
                        colours are drawn (the loss curve's blue)
Prints what it measured; exit status 1 on the first failed check."""
import html.parser
import json
import re
import struct
import sys
import zlib


class Dom(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.paths, self.cells, self.rows, self.external = [], [], 0, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "path" and "series" in (a.get("class") or ""):
            self.paths.append(a)
        if tag == "rect" and a.get("class") == "cell":
            self.cells.append(a)
        if tag == "tr" and "sample" in (a.get("class") or ""):
            self.rows += 1
        if tag in ("script", "link", "iframe", "object", "embed"):
            self.external.append(tag)
        src = a.get("src") or a.get("href") or ""
        if src and not src.startswith("data:") and not src.startswith("#"):
            self.external.append(src[:60])


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def check_dom(path, want_examples):
    d = Dom()
    d.feed(open(path, encoding="utf-8").read())
    series = {}
    for p in d.paths:
        points = len(re.findall(r"[ML]\s*-?[\d.]+ -?[\d.]+", p.get("d", "")))
        if points != int(p.get("data-points", -1)):
            fail(f"series {p.get('data-series')}: {points} points in d, data-points {p.get('data-points')}")
        series[p.get("data-series")] = points
    print("dom: series", json.dumps(series, sort_keys=True))
    for name in ("loss", "lr", "samples_per_s", "grad_norm", "data_wait_ms", "eval_loss", "eval_accuracy"):
        if series.get(name, 0) < 2:
            fail(f"the {name} curve has {series.get(name, 0)} points")
    k = round(len(d.cells) ** 0.5)
    total = sum(int(c["data-count"]) for c in d.cells)
    print(f"dom: heat map {k} x {k} cells, counts sum {total}; {d.rows} sample rows; external: {d.external}")
    if k * k != len(d.cells) or k < 2:
        fail(f"{len(d.cells)} heat-map cells")
    if total != want_examples:
        fail(f"heat-map counts sum to {total}, the test set has {want_examples}")
    if d.rows < 2:
        fail(f"{d.rows} sample rows")
    if d.external:
        fail(f"the page loads {d.external}")


def read_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail(f"{path} is not a PNG")
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or color not in (2, 6) or interlace:
                fail(f"unexpected PNG format depth {depth} colour {color} interlace {interlace}")
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride = zlib.decompress(idat), width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return width, height, bpp, rows


def check_png(path, want_w, want_h):
    w, h, bpp, rows = read_png(path)
    inked = blue = 0
    for line in rows:
        for x in range(0, len(line), bpp):
            r, g, b = line[x], line[x + 1], line[x + 2]
            inked += (r + g + b) < 3 * 235
            blue += abs(r - 0x1f) < 24 and abs(g - 0x77) < 24 and abs(b - 0xb4) < 24
    share = inked / (w * h)
    print(f"png: {w} x {h}, {100 * share:.1f}% of pixels not near-white, {blue} pixels of the loss curve's blue")
    if (w, h) != (want_w, want_h):
        fail(f"screenshot is {w} x {h}, want {want_w} x {want_h}")
    if share < 0.02:
        fail("the screenshot is (nearly) blank")
    if blue < 200:
        fail("the charts' blue is missing from the screenshot")


if __name__ == "__main__":
    if sys.argv[1] == "dom":
        check_dom(sys.argv[2], int(sys.argv[3]))
    else:
        check_png(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    print("ok")
