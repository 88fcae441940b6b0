// Validates FHIR R4 resources against the official FHIR 4.0.1 JSON schema, as compiled by
// @d4l/js-fhir-validator (one ajv function per resource type).
// Usage: node fhir_validate.js <validator package dir> <file of resources, one JSON per line>
// A Bundle is checked with its entries' resources taken out, and each of those on its own
// (the package cannot follow a Bundle into other resource types).
// Prints "<n> valid" and exits 0, or prints every error and exits 1.
"use strict";
const fs = require("fs");
const path = require("path");
const [dir, file] = process.argv.slice(2);
const cache = {};
function validator(type) {
  if (!/^[A-Za-z]+$/.test(type)) throw new Error(`not a resource type: ${type}`);
  if (!cache[type]) {
    const mod = require(path.join(dir, "r4", "js", `${type}.js`));
    cache[type] = mod.default || mod;
  }
  return cache[type];
}
let checked = 0;
const failures = [];
function check(resource, where) {
  const type = resource && resource.resourceType;
  if (!type) {
    failures.push(`${where}: no resourceType`);
    return;
  }
  let copy = resource;
  if (type === "Bundle") {
    copy = JSON.parse(JSON.stringify(resource));
    (copy.entry || []).forEach((e, i) => {
      if (e.resource) check(e.resource, `${where}.entry[${i}]`);
      delete e.resource;
    });
  }
  const validate = validator(type);
  checked += 1;
  if (!validate(copy)) {
    failures.push(`${where} (${type}): ${JSON.stringify(validate.errors)}`);
  }
}
fs.readFileSync(file, "utf8")
  .split("\n")
  .filter((l) => l.trim())
  .forEach((line, i) => check(JSON.parse(line), `#${i + 1}`));
if (failures.length) {
  console.log(failures.join("\n"));
  process.exit(1);
}
console.log(`${checked} valid`);
