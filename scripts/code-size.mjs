#!/usr/bin/env node
// Lists the files of src/ over a line budget and the functions over theirs, so that a file or a
// function that has grown past what one reader holds in mind shows up in review (issue 16).
//
//   node scripts/code-size.mjs [--max-file 300] [--max-fn 60] [--json] [--root src]
//
// A function's size counts its lines from its first token to its closing brace, nested functions
// included (they are listed on their own too). Needs the `typescript` dev dependency.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

function parseArgs(argv) {
  const options = { maxFile: 300, maxFn: 60, json: false, root: 'src' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    };
    const count = () => {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 0) throw new Error(`${arg} needs a whole number`);
      return n;
    };
    if (arg === '--max-file') options.maxFile = count();
    else if (arg === '--max-fn') options.maxFn = count();
    else if (arg === '--json') options.json = true;
    else if (arg === '--root') options.root = value();
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write('usage: node scripts/code-size.mjs [--max-file N] [--max-fn N] [--json] [--root DIR]\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${arg}`);
  }
  return options;
}

function tsFiles(dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...tsFiles(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) found.push(path);
  }
  return found.sort();
}

function lineCount(text) {
  if (text.length === 0) return 0;
  const lines = text.split('\n').length;
  return text.endsWith('\n') ? lines - 1 : lines;
}

function isFunctionLike(node) {
  return (
    ts.isFunctionDeclaration(node) ||
    ts.isFunctionExpression(node) ||
    ts.isArrowFunction(node) ||
    ts.isMethodDeclaration(node) ||
    ts.isConstructorDeclaration(node) ||
    ts.isGetAccessorDeclaration(node) ||
    ts.isSetAccessorDeclaration(node)
  );
}

function nameText(name, file) {
  if (name === undefined) return undefined;
  if (ts.isIdentifier(name) || ts.isPrivateIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name)) return name.text;
  return name.getText(file);
}

/** The name of the class, object literal or call a member belongs to, for "Owner.member". */
function ownerName(node, file) {
  const parent = node.parent;
  if (parent === undefined) return undefined;
  if (ts.isClassDeclaration(parent) || ts.isClassExpression(parent)) return parent.name?.text ?? '<class>';
  if (ts.isObjectLiteralExpression(parent)) return contextName(parent, file);
  return undefined;
}

function shortCall(call, file) {
  const callee = call.expression.getText(file).replace(/\s+/g, '');
  const first = call.arguments[0];
  const label = first && (ts.isStringLiteral(first) || ts.isNoSubstitutionTemplateLiteral(first)) ? `'${first.text}'` : '…';
  return `${callee.length > 40 ? `${callee.slice(0, 40)}…` : callee}(${label})`;
}

/** What an anonymous function or object literal is known by: its variable, property, or call. */
function contextName(node, file) {
  let current = node;
  let parent = node.parent;
  // Look through wrappers that do not rename the value: parentheses, casts, `satisfies`.
  while (
    parent &&
    (ts.isParenthesizedExpression(parent) ||
      ts.isAsExpression(parent) ||
      ts.isSatisfiesExpression(parent) ||
      ts.isTypeAssertionExpression(parent))
  ) {
    current = parent;
    parent = parent.parent;
  }
  if (parent === undefined) return undefined;
  if (ts.isVariableDeclaration(parent)) return nameText(parent.name, file);
  if (ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) {
    const owner = ownerName(parent, file);
    const own = nameText(parent.name, file);
    return owner ? `${owner}.${own}` : own;
  }
  if (ts.isBinaryExpression(parent) && parent.right === current) return parent.left.getText(file);
  if (ts.isCallExpression(parent) || ts.isNewExpression(parent)) {
    if (ts.isCallExpression(parent)) return `${shortCall(parent, file)} callback`;
    return `new ${parent.expression.getText(file)}(…) callback`;
  }
  if (ts.isReturnStatement(parent)) {
    const enclosing = enclosingFunctionName(parent, file);
    return enclosing ? `${enclosing} (returned)` : undefined;
  }
  if (ts.isExportAssignment(parent)) return 'default export';
  return undefined;
}

function enclosingFunctionName(node, file) {
  for (let at = node.parent; at; at = at.parent) if (isFunctionLike(at)) return functionName(at, file);
  return undefined;
}

function functionName(node, file) {
  if (ts.isConstructorDeclaration(node)) return `${ownerName(node, file) ?? '<class>'}.constructor`;
  if (ts.isMethodDeclaration(node) || ts.isGetAccessorDeclaration(node) || ts.isSetAccessorDeclaration(node)) {
    const prefix = ts.isGetAccessorDeclaration(node) ? 'get ' : ts.isSetAccessorDeclaration(node) ? 'set ' : '';
    const owner = ownerName(node, file);
    const own = nameText(node.name, file);
    return `${prefix}${owner ? `${owner}.` : ''}${own}`;
  }
  if ((ts.isFunctionDeclaration(node) || ts.isFunctionExpression(node)) && node.name) return node.name.text;
  return contextName(node, file) ?? '<anonymous>';
}

function measure(path, rootForDisplay) {
  const text = readFileSync(path, 'utf8');
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const display = relative(rootForDisplay, path).split('\\').join('/');
  const functions = [];
  const visit = (node) => {
    if (isFunctionLike(node) && node.body !== undefined) {
      const start = file.getLineAndCharacterOfPosition(node.getStart(file)).line;
      const end = file.getLineAndCharacterOfPosition(node.getEnd()).line;
      functions.push({ lines: end - start + 1, path: display, line: start + 1, name: functionName(node, file) });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return { path: display, lines: lineCount(text), functions };
}

function main() {
  let options;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`code-size: ${error.message}\n`);
    process.exit(2);
  }
  const measured = tsFiles(options.root).map((path) => measure(path, process.cwd()));
  const files = measured
    .filter((f) => f.lines > options.maxFile)
    .map(({ path, lines }) => ({ lines, path }))
    .sort((a, b) => b.lines - a.lines || a.path.localeCompare(b.path));
  const functions = measured
    .flatMap((f) => f.functions)
    .filter((fn) => fn.lines > options.maxFn)
    .sort((a, b) => b.lines - a.lines || a.path.localeCompare(b.path) || a.line - b.line);
  if (options.json) {
    const report = { maxFile: options.maxFile, maxFn: options.maxFn, scanned: measured.length, files, functions };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  const out = [];
  out.push(`files over ${options.maxFile} lines (${files.length} of ${measured.length}):`);
  for (const f of files) out.push(`${String(f.lines).padStart(6)}  ${f.path}`);
  out.push('');
  out.push(`functions over ${options.maxFn} lines (${functions.length}):`);
  for (const fn of functions) out.push(`${String(fn.lines).padStart(6)}  ${fn.path}:${fn.line}  ${fn.name}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

main();
