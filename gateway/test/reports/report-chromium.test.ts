/**
 * Opens report.html in headless Chromium (Debian's chromium, driven by playwright-core) and checks that every
 * figure drew its data points, interval bars, base references and the paper's values, against the results;
 * saves a screenshot in the test's temp folder. Skips, saying why, where no chromium binary is installed.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { paperValueFor } from "../../src/reports/paper-results.js";
import { figureRows } from "../../src/reports/report-html.js";
import { writeReport } from "../../src/reports/write-report.js";
import { answerStream, CRITERIA, MODELS, plantedRun } from "./planted-run.js";

const CANDIDATES = [
  process.env.CHROMIUM_PATH,
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
  "/usr/bin/google-chrome",
];
const executablePath = CANDIDATES.find((p): p is string => Boolean(p) && existsSync(p!));
const skip = executablePath ? false : "no chromium binary (apt-get install chromium, or set CHROMIUM_PATH)";

interface DrawnFigure {
  criterion: string;
  model: string;
  points: Array<{ dataset: string; size: number; title: string; width: number; height: number; inside: boolean }>;
  intervals: number;
  baseReferences: number;
  paperPoints: number;
}

describe("report.html in headless Chromium", () => {
  it("draws every figure's data points, interval bars, base references and published values", { skip }, async () => {
    const { experiment, rows, answers } = plantedRun();
    const dir = mkdtempSync(join(tmpdir(), "ragtune-report-browser-"));
    await writeReport(dir, experiment, rows, { answers: answerStream(answers) });
    const browser = await chromium.launch({ executablePath, headless: true, args: ["--no-sandbox"] });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(pathToFileURL(join(dir, "report.html")).href);
      const drawn: DrawnFigure[] = await page.$$eval("figure.result-figure", (figures) =>
        figures.map((figure) => {
          const svg = figure.querySelector("svg")!.getBoundingClientRect();
          return {
            criterion: figure.getAttribute("data-criterion")!,
            model: figure.getAttribute("data-model")!,
            points: [...figure.querySelectorAll("circle.point")].map((c) => {
              const box = c.getBoundingClientRect();
              return {
                dataset: c.getAttribute("data-dataset")!,
                size: Number(c.getAttribute("data-size")),
                title: c.querySelector("title")?.textContent ?? "",
                width: box.width,
                height: box.height,
                inside:
                  box.top >= svg.top && box.bottom <= svg.bottom && box.left >= svg.left && box.right <= svg.right,
              };
            }),
            intervals: figure.querySelectorAll("line.interval").length,
            baseReferences: figure.querySelectorAll("line.base-reference").length,
            paperPoints: figure.querySelectorAll("path.paper-point").length,
          };
        }),
      );
      const expected = figureRows(experiment, rows);
      assert.equal(drawn.length, MODELS.length * CRITERIA.length, "the paper's four figures");
      assert.equal(expected.length, drawn.length);
      for (const want of expected) {
        const figure = drawn.find((f) => f.model === want.model && f.criterion === want.criterion);
        assert.ok(figure, `figure ${want.criterion} — ${want.model}`);
        assert.equal(figure.points.length, want.rows.length, `${want.model} ${want.criterion}: one point per row`);
        assert.equal(figure.intervals, want.rows.length, "one interval bar per point");
        assert.equal(figure.baseReferences, new Set(want.rows.map((r) => r.dataset)).size, "a base line per dataset");
        assert.equal(figure.paperPoints, want.rows.filter((r) => paperValueFor(r)).length, "published values");
        for (const row of want.rows) {
          const point = figure.points.find((p) => p.dataset === row.dataset && p.size === row.finetuneSize);
          assert.ok(point, `${row.dataset} ${row.finetuneSize}`);
          assert.ok(point.width > 0 && point.height > 0 && point.inside, "drawn inside its figure");
          assert.match(point.title, new RegExp(`: ${row.score!.mean.toFixed(2)} \\[`));
        }
      }
      // The Llama 2 figures carry the paper's Qasper values (base and 200), the Mistral ones none.
      assert.deepEqual(
        drawn.map((f) => f.paperPoints),
        drawn.map((f) => (/llama-2/.test(f.model) ? 2 : 0)),
      );
      const tables = await page.$$eval("table", (ts) => ts.length);
      assert.equal(tables, 4, "differences, reliability, published values, all rows");
      const screenshot = join(dir, "report.png");
      await page.screenshot({ path: screenshot, fullPage: true });
      assert.ok(existsSync(screenshot));
      console.log(`screenshot: ${screenshot}`);
    } finally {
      await browser.close();
    }
  });
});
