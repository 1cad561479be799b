// DatasetUpload and the uploadDataset mutation: the way an API caller gets a data file onto the server.
// The file lands under the first DATA_DIR, and its `path` is what a startRun dataset spec names.
import { ValidationError } from "../errors.ts";
import { checkUpload } from "../models/inspect.ts";
import { storeDataFile } from "../runs/catalog.ts";
import { builder } from "./builder.ts";
import { UploadScalar } from "./scalars.ts";

interface DatasetUpload {
  path: string;
  bytes: number;
  sha256: string;
}

export const DatasetUploadType = builder.objectRef<DatasetUpload>("DatasetUpload").implement({
  description: "A data file stored in the data directory (DATA_DIR)",
  fields: (t) => ({
    path: t.exposeString("path", {
      description:
        'The file\'s path relative to DATA_DIR: name it in a dataset spec, e.g. "csv:path=<path>,labelColumn=0"',
    }),
    bytes: t.exposeInt("bytes", { description: "Size of the stored file in bytes" }),
    sha256: t.exposeString("sha256", {
      description: "Hex SHA-256 of the content (uploads are deduplicated by it)",
    }),
  }),
});

builder.mutationField("uploadDataset", (t) =>
  t.field({
    type: DatasetUploadType,
    description:
      "Stores a data file (CSV, IDX, CIFAR-10 batch; gzip allowed) under DATA_DIR (GraphQL multipart request, at most MAX_UPLOAD_BYTES); returns the path a dataset spec names",
    errors: { types: [ValidationError], directResult: true },
    args: {
      file: t.arg({ type: UploadScalar, required: true, description: "The data file (multipart part)" }),
      name: t.arg.string({ description: "File name to keep (default: the uploaded file's name)" }),
    },
    resolve: async (_root, { file, name }, ctx) => {
      const chosen = name ?? file.name;
      checkUpload(chosen, file.size, ctx.config.maxUploadBytes);
      return storeDataFile(ctx.config.dataDirs[0], chosen, new Uint8Array(await file.arrayBuffer()));
    },
  }),
);
