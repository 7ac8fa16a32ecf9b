// the product's own helper: tests and the benchmark take free ports the same way
export { canConnect, freePort } from "../../src/util/net.js";
