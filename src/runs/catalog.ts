// What the API layer may show of the training layer's vocabulary: the named experiments, the execution
// providers and optimizer kinds. src/schema reaches src/train only through this file and the RunManager.
export { EXPERIMENTS, type Experiment, OPTIMIZER_KINDS, PROVIDERS } from "../train/config.ts";
// Stores an uploaded data file under DATA_DIR (uploadDataset).
export { storeDataFile } from "../train/data/files.ts";
