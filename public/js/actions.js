// Run lifecycle mutations shared by the run list and the run page.
import { gql } from "./gql.js";

const OUTCOME = `__typename ... on NotFoundError { message } ... on ValidationError { message }`;
const MUTATIONS = {
  cancel: `mutation($id: ID!) { r: cancelRun(id: $id) { ${OUTCOME} } }`,
  resume: `mutation($id: ID!) { r: resumeRun(id: $id) { ${OUTCOME} } }`,
  delete: `mutation($id: ID!) { r: deleteRun(id: $id) { ${OUTCOME} } }`,
};

/** cancel | resume | delete; throws with the server's message when the run cannot change. */
export async function runAction(kind, id) {
  const { r } = await gql(MUTATIONS[kind], { id });
  if (r.__typename === "NotFoundError" || r.__typename === "ValidationError") throw new Error(r.message);
  return r;
}

/** Reads the run's export URL and lets the browser download the trained inference model. */
export async function downloadModel(runId) {
  const { run } = await gql(`query($id: ID!) { run(id: $id) { databaseId exportUrl } }`, { id: runId });
  if (!run) throw new Error("the run no longer exists");
  if (!run.exportUrl)
    throw new Error("the run has no checkpoint yet: export is available once it has trained a chunk");
  const a = document.createElement("a");
  a.href = run.exportUrl;
  a.download = `run-${run.databaseId}.onnx`;
  document.body.append(a);
  a.click();
  a.remove();
  return run.exportUrl;
}
