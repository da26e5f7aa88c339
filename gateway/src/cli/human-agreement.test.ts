import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { AnswerRecordSchema } from "@ragtune/contracts/gateway";
import { formatAgreementTable, humanAgreement, pearson, ranks, spearman } from "./human-agreement.js";
import { readHumanRatings } from "./human-ratings-file.js";

describe("agreement statistics", () => {
  it("ranks ties by their mean rank", () => {
    assert.deepEqual(ranks([3, 1, 3, 5]), [2.5, 1, 2.5, 4]);
  });

  it("Spearman sees a monotone relation whole where Pearson does not; both see a reversal", () => {
    const x = [1, 2, 3, 4, 5];
    const y = [1, 1.1, 1.2, 1.3, 5];
    assert.equal(spearman(x, y), 1);
    assert.ok(pearson(x, y) < 0.9);
    assert.ok(Math.abs(spearman(x, [5, 4, 3, 2, 1]) + 1) < 1e-12);
    assert.ok(Number.isNaN(pearson([1, 2, 3], [4, 4, 4])), "no variance: undefined, not 0");
  });
});

describe("human ratings file and agreement", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "human-ratings-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const answer = (cellKey: string, itemId: string, dataset: string, judged: Record<string, number>) =>
    create(AnswerRecordSchema, {
      cellKey,
      itemId,
      dataset,
      scores: Object.entries(judged).map(([criterion, mean]) => ({ criterion, spread: { n: 3, mean } })),
    });

  it("refuses a bad file naming the line and the field", async () => {
    const cases: [string, string, RegExp][] = [
      [
        "a.jsonl",
        '{"cell_key":"c","item_id":"i","criterion":"accuracy","score":4}\n{"cell_key":"c","item_id":"j","criterion":"accuracy","score":7}\n',
        /a\.jsonl:2: score: must be a number in 1\.\.5, got 7/,
      ],
      [
        "b.jsonl",
        '{"cell_key":"c","criterion":"accuracy","score":4}\n',
        /b\.jsonl:1: item_id: must be a non-empty string, got undefined/,
      ],
      [
        "c.jsonl",
        '{"cell_key":"c","item_id":"i","criterion":"accuracy","score":4}\nnot json\n',
        /c\.jsonl:2: not JSON/,
      ],
      ["d.csv", "cell_key,item_id,score\nc,i,4\n", /d\.csv:1: header: needs a column criterion/],
      [
        "e.csv",
        'cell_key,item_id,criterion,score,rater\nc,i,accuracy,4,ann\nc,"i",accuracy,five,ann\n',
        /e\.csv:3: score: must be a number in 1\.\.5, got "five"/,
      ],
      [
        "f.csv",
        "cell_key,item_id,criterion,score,rater\nc,i,accuracy,4,ann\nc,i,accuracy,5,ann\n",
        /f\.csv:3: rates i of c on accuracy by ann again \(first on line 2\)/,
      ],
    ];
    for (const [name, text, message] of cases) {
      await writeFile(join(dir, name), text);
      await assert.rejects(readHumanRatings(join(dir, name)), message);
    }
  });

  it("averages raters per answer, joins on cell and item, and says which ratings matched nothing", async () => {
    const file = join(dir, "ratings.csv");
    await writeFile(
      file,
      [
        "cell_key,item_id,criterion,score,rater,answer",
        'base,q1,accuracy,2,ann,"an answer, with a comma"',
        "base,q1,accuracy,4,bob,x",
        "base,q2,accuracy,4,ann,x",
        "base,q3,accuracy,5,ann,x",
        "tuned,q1,accuracy,1,ann,x",
        "base,q9,accuracy,3,ann,x",
        "base,q1,fluency,3,ann,x",
      ].join("\n"),
    );
    const ratings = await readHumanRatings(file);
    const answers = [
      answer("base", "q1", "bioasq", { accuracy: 2 }),
      answer("base", "q2", "bioasq", { accuracy: 3 }),
      answer("base", "q3", "nq-open", { accuracy: 5 }),
      answer("tuned", "q1", "bioasq", { accuracy: 2 }),
    ];
    const agreement = await humanAgreement(answers, ratings);
    const all = agreement.rows.find((r) => r.dataset === "all")!;
    // judge [2, 3, 5, 2] vs human [3 (mean of 2 and 4), 4, 5, 1]
    assert.equal(all.n, 4);
    assert.equal(all.meanAbsDifference, (1 + 1 + 0 + 1) / 4);
    assert.equal(all.meanDifference, (-1 - 1 + 0 + 1) / 4);
    assert.deepEqual(
      agreement.rows.map((r) => [r.dataset, r.n]),
      [
        ["all", 4],
        ["bioasq", 3],
        ["nq-open", 1],
      ],
    );
    assert.deepEqual(agreement.unmatched, [
      { line: 7, reason: "no answer q9 in cell base" },
      { line: 8, reason: "the judge has no successful score on fluency for it" },
    ]);
    const table = formatAgreementTable("ratings.csv", agreement);
    assert.match(table, /ratings\.csv: 7 ratings, 2 named raters/);
    assert.match(table, /^accuracy\s+all\s+4\s+\S+\s+\S+\s+0\.75\s+-0\.25$/m);
    assert.match(table, /^accuracy\s+nq-open\s+1\s+–\s+–\s+0\.00\s+0\.00$/m);
    assert.match(table, /2 rating\(s\) matched nothing and are not counted: line 7: no answer q9 in cell base; line 8/);
  });
});
