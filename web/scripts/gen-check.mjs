// Fails when src/api/schema.d.ts is not what `npm run gen` makes from ../openapi/openapi.json.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dir = mkdtempSync(join(tmpdir(), "vigil-gen-"));
const fresh = join(dir, "schema.d.ts");
try {
  execFileSync("npx", ["openapi-typescript", "../openapi/openapi.json", "-o", fresh, "--silent"], {
    stdio: "inherit",
  });
  execFileSync("npx", ["prettier", "--config", ".prettierrc.json", "--write", "--log-level", "warn", fresh], {
    stdio: "inherit",
  });
  const committed = readFileSync("src/api/schema.d.ts", "utf8");
  if (readFileSync(fresh, "utf8") !== committed) {
    console.error("src/api/schema.d.ts is stale: run `npm run gen` (or `make openapi`) and commit it.");
    process.exit(1);
  }
  console.log("src/api/schema.d.ts matches ../openapi/openapi.json");
} finally {
  rmSync(dir, { recursive: true, force: true });
}
