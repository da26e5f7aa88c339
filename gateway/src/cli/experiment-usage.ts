/** Usage of the commands for a running suite; kept apart so that `ragtune --help` loads no client code. */
import { RESULT_FORMATS } from "./results-format.js";

export const experimentUsage = `experiments on a running suite (GATEWAY_URL, default the address of \`npm start\`;
RAGTUNE_AUTH_TOKEN when the suite wants one):
  list                       experiments, newest first
  status ID                  one experiment: state, cells done, stage, errors, trace id
  watch ID [--every S]       follow its progress until it ends (Ctrl-C detaches; the run goes on)
  results ID [--format F]    its results table; F: ${RESULT_FORMATS.join(", ")} (default table)
  report ID [--out DIR]      write report.html, results.csv/.json/.tex and answers.jsonl (default .ragtune/reports/ID)
      --human-ratings FILE   (results, report) also the judge's agreement with human ratings of the run's answers:
                             JSONL or CSV rows of cell_key, item_id (as in answers.jsonl), criterion, score 1..5,
                             rater; per criterion and dataset n, Spearman, Pearson, mean |judge-human|
  cancel ID                  cancel it; finished cells are kept
  resume ID [--every S]      start it again where it stopped, and follow it
`;

export const EXPERIMENT_COMMANDS = ["list", "status", "watch", "results", "report", "cancel", "resume"];
