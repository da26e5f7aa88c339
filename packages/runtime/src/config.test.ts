import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  addressSetting,
  ConfigError,
  describeConfig,
  httpUrlSetting,
  loadConfig,
  numberSetting,
  stringSetting,
} from "./config.js";

const spec = {
  addr: addressSetting({ env: "X_ADDR", description: "address", default: "127.0.0.1:0" }),
  workers: numberSetting({ env: "X_WORKERS", description: "workers", default: 4, min: 1, integer: true }),
  apiKey: stringSetting({ env: "X_API_KEY", description: "key", secret: true }),
};

describe("loadConfig", () => {
  it("takes defaults, env, and flags over env", () => {
    assert.deepEqual(loadConfig(spec, {}, []), { addr: "127.0.0.1:0", workers: 4, apiKey: undefined });
    const config = loadConfig(spec, { X_WORKERS: "8", X_API_KEY: "k" }, ["--x-workers=16", "--x-addr", "0.0.0.0:9000"]);
    assert.deepEqual(config, { addr: "0.0.0.0:9000", workers: 16, apiKey: "k" });
  });

  it("fails naming the setting", () => {
    assert.throws(
      () => loadConfig(spec, { X_WORKERS: "two" }, []),
      (e: Error) => {
        assert.ok(e instanceof ConfigError);
        assert.equal(e.setting, "X_WORKERS");
        assert.match(e.message, /X_WORKERS: must be a number/);
        return true;
      },
    );
    assert.throws(() => loadConfig(spec, { X_ADDR: "nohost" }, []), /X_ADDR/);
    assert.throws(() => loadConfig(spec, { X_WORKERS: "0" }, []), /X_WORKERS: must be >= 1/);
  });

  it("takes only http and https URLs for an HTTP endpoint", () => {
    const endpoint = { url: httpUrlSetting({ env: "X_URL", description: "endpoint" }) };
    assert.equal(loadConfig(endpoint, { X_URL: "https://api.example/v1" }, []).url, "https://api.example/v1");
    assert.throws(() => loadConfig(endpoint, { X_URL: "ftp://files.example/" }, []), /X_URL: must use http or https/);
  });

  it("masks secrets when printed", () => {
    const config = loadConfig(spec, { X_API_KEY: "sk-live" }, []);
    assert.equal(describeConfig(spec, config).X_API_KEY, "****");
    assert.ok(!JSON.stringify(describeConfig(spec, config)).includes("sk-live"));
  });
});
