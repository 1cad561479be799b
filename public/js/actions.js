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

/** Asks for an export URL and lets the browser download the trained inference model. */
export async function downloadModel(runId) {
  const { exportModel: r } = await gql(
    `mutation($id: ID!) { exportModel(runId: $id) { __typename ... on MutationExportModelSuccess { data } ${OUTCOME} } }`,
    { id: runId },
  );
  if (r.__typename !== "MutationExportModelSuccess") throw new Error(r.message);
  const a = document.createElement("a");
  a.href = r.data;
  a.download = `run-${runId}.onnx`;
  document.body.append(a);
  a.click();
  a.remove();
  return r.data;
}
