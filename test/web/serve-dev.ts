// Manual dashboard preview: `npx tsx test/web/serve-dev.ts` serves the real server with a temporary
// database on a free port and prints the dashboard's URL.
import { startServer } from "./harness.ts";

const server = await startServer();
console.log(`dashboard: ${server.origin}/`);
const stop = () => void server.stop().then(() => process.exit(0));
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
