import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/server/config.ts";

describe("config", () => {
  it("defaults to port 4000 on localhost with the embedded SQLite file", () => {
    expect(loadConfig({})).toMatchObject({
      port: 4000,
      host: "localhost",
      databaseUrl: "file:./data/gradstream.db",
    });
  });
  it("rejects a PORT that is not a port number and names the variable", () => {
    expect(() => loadConfig({ PORT: "abc" })).toThrow(
      /PORT must be an integer between 0 and 65535, got "abc"/,
    );
  });
});
