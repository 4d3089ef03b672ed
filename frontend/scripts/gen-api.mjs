// Generates src/api/schema.d.ts from the portal's OpenAPI schema, offline: the API is the UI's contract.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..", "..");
const python = join(root, ".venv", "bin", "python");
if (!existsSync(python)) {
  console.error(`gen:api needs the portal's Python venv at ${python}; create it first (make setup).`);
  process.exit(1);
}
const dir = mkdtempSync(join(tmpdir(), "berth-schema-"));
const schemaFile = join(dir, "schema.yml");
try {
  try {
    // drf-spectacular's warnings are the portal's business; show them only when generation fails.
    execFileSync(python, [join(root, "manage.py"), "spectacular", "--file", schemaFile], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (error) {
    process.stderr.write(String(error.stderr ?? error));
    console.error("gen:api: the portal could not produce its OpenAPI schema (see above).");
    process.exit(1);
  }
  const bin = join(import.meta.dirname, "..", "node_modules", ".bin", "openapi-typescript");
  execFileSync(bin, [schemaFile, "--output", join(import.meta.dirname, "..", "src", "api", "schema.d.ts")], {
    stdio: "inherit",
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
