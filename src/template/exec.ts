/**
 * The executor of Go's text/template (text/template/exec.go) with `missingkey=error`, as ESO
 * renders: the same walk over the tree, variable scoping to the matching `end`, `range` over
 * slices, maps (sorted keys), integers (Go ≥ 1.22) and nil (the `else` branch), `break` /
 * `continue`, `and` / `or` that stop at the deciding argument, Go's argument checks for every
 * call, `<no value>` for a nil result, and Go's error texts.
 *
 * Every step, call and printed byte is charged to the render's {@link Budget}.
 */
import { type Budget, TemplateLimitError } from './budget.ts';
import { TemplateError } from './errors.ts';
import { formatValue } from './fmt.ts';
import { INT_METHODS } from './functions/sprig-date.ts';
import { type CallContext, FuncError, type FuncMap, type GoFunc, type RenderEnv } from './functions/types.ts';
import type {
  ArgNode,
  CommandNode,
  ListNode,
  Node,
  NumberNode,
  ParseResult,
  PipeNode,
  RangeNode,
} from './parser.ts';
import {
  GoInt,
  GoMap,
  type GoMethod,
  GoSlice,
  GoStruct,
  int,
  isTrue,
  type ParamType,
  sizeOf,
  sortedKeys,
  typeName,
  type Value,
} from './values.ts';

const MISSING = Symbol('missing');
type Final = Value | typeof MISSING;

class BreakSignal {}
class ContinueSignal {}
const BREAK = new BreakSignal();
const CONTINUE = new ContinueSignal();

interface Variable {
  name: string;
  value: Value;
}

export interface ExecOptions {
  name: string;
  parsed: ParseResult;
  funcs: FuncMap;
  budget: Budget;
  env: RenderEnv;
}

const GO_TYPE: Record<ParamType, string> = {
  any: 'interface {}',
  value: 'reflect.Value',
  string: 'string',
  int: 'int',
  int64: 'int64',
  uint32: 'uint32',
  float64: 'float64',
  bool: 'bool',
  map: 'map[string]interface {}',
  list: '[]interface {}',
  time: 'time.Time',
  duration: 'time.Duration',
  certificate: 'sprig.certificate',
};

export function execute(opts: ExecOptions, data: Value): string {
  const s = new State(opts);
  const tree = opts.parsed.trees.get(opts.name);
  if (tree === undefined) throw new TemplateError(`template: ${opts.name}: no such template`);
  s.vars = [{ name: '$', value: data }];
  s.walk(data, tree.root);
  return s.out.join('');
}

class State {
  readonly opts: ExecOptions;
  readonly budget: Budget;
  vars: Variable[] = [];
  out: string[] = [];
  outBytes = 0;
  /** The node being executed, for error positions. */
  at = 0;
  atSrc = '';
  tmplName: string;

  constructor(opts: ExecOptions) {
    this.opts = opts;
    this.budget = opts.budget;
    this.tmplName = opts.name;
  }

  where(): string {
    const p = this.opts.parsed.position(this.at);
    return `line ${p.line}, col ${p.col + 1}`;
  }

  fail(msg: string): never {
    const p = this.opts.parsed.position(this.at);
    const at = this.atSrc ? ` at <${this.atSrc.slice(0, 60)}>` : '';
    throw new TemplateError(
      `template: ${this.opts.name}:${p.line}:${p.col}: executing ${JSON.stringify(this.tmplName)}${at}: ${msg}`,
    );
  }

  setAt(n: { pos: number; src?: string }): void {
    this.at = n.pos;
    if (n.src !== undefined) this.atSrc = n.src;
  }

  write(s: string): void {
    if (s.length === 0) return;
    this.outBytes += s.length;
    if (this.outBytes > this.budget.limits.valueBytes) this.budget.fail('value', `output at ${this.where()}`);
    this.budget.alloc(s.length, `output at ${this.where()}`);
    this.out.push(s);
  }

  // ------------------------------------------------------------------ walking

  walk(dot: Value, node: Node | ListNode): void {
    this.setAt(node);
    this.budget.step(this.where());
    switch (node.t) {
      case 'list':
        for (const n of node.nodes) this.walk(dot, n);
        return;
      case 'text':
        this.write(node.text);
        return;
      case 'action': {
        const v = this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) {
          this.setAt(node.pipe);
          this.write(v === null ? '<no value>' : formatValue(v));
        }
        return;
      }
      case 'if':
      case 'with': {
        const mark = this.vars.length;
        const v = this.evalPipeline(dot, node.pipe);
        if (isTrue(v)) this.walk(node.t === 'with' ? v : dot, node.list);
        else if (node.elseList) this.walk(dot, node.elseList);
        this.vars.length = mark;
        return;
      }
      case 'range':
        this.walkRange(dot, node);
        return;
      case 'template': {
        const tree = this.opts.parsed.trees.get(node.name);
        if (tree === undefined) this.fail(`no such template ${JSON.stringify(node.name)}`);
        const newDot = node.pipe ? this.evalPipeline(dot, node.pipe) : null;
        this.budget.enter(`template ${JSON.stringify(node.name.slice(0, 40))} at ${this.where()}`);
        const saved = { vars: this.vars, name: this.tmplName };
        this.vars = [{ name: '$', value: newDot }];
        this.tmplName = node.name;
        try {
          this.walk(newDot, tree.root);
        } finally {
          this.vars = saved.vars;
          this.tmplName = saved.name;
          this.budget.leave();
        }
        return;
      }
      case 'break':
        throw BREAK;
      case 'continue':
        throw CONTINUE;
    }
  }

  walkRange(dot: Value, r: RangeNode): void {
    const outer = this.vars.length;
    const val = this.evalPipeline(dot, r.pipe);
    const mark = this.vars.length;
    const one = (index: Value, elem: Value): boolean => {
      this.budget.step(this.where());
      if (r.pipe.decl.length > 0) this.setTopVar(1, elem);
      if (r.pipe.decl.length > 1) this.setTopVar(2, index);
      try {
        this.walk(elem, r.list);
      } catch (e) {
        if (e === CONTINUE) return true;
        if (e === BREAK) return false;
        throw e;
      } finally {
        this.vars.length = mark;
      }
      return true;
    };
    let ran = false;
    try {
      if (val instanceof GoSlice) {
        const items = val.items;
        for (let i = 0; i < items.length; i++) {
          ran = true;
          if (!one(int(i), items[i] ?? null)) break;
        }
      } else if (val instanceof GoMap) {
        for (const k of sortedKeys(val)) {
          ran = true;
          if (!one(k, val.m.get(k) ?? null)) break;
        }
      } else if (val instanceof GoInt) {
        // Go 1.22 ranges over integers; ESO is built with a current Go.
        if (r.pipe.decl.length > 1) this.fail("can't use two variables to range over an integer");
        const n = val.v;
        if (n > BigInt(this.budget.limits.steps)) this.budget.fail('steps', `range at ${this.where()}`);
        for (let i = 0n; i < n; i++) {
          ran = true;
          if (!one(new GoInt(i, val.type), new GoInt(i, val.type))) break;
        }
      } else if (val !== null) {
        this.fail(`range can't iterate over value of type ${typeName(val)}`);
      }
      if (!ran && r.elseList) this.walk(dot, r.elseList);
    } finally {
      this.vars.length = outer;
    }
  }

  setTopVar(n: number, v: Value): void {
    const slot = this.vars[this.vars.length - n];
    if (slot) slot.value = v;
  }

  varValue(name: string): Value {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      const v = this.vars[i] as Variable;
      if (v.name === name) return v.value;
    }
    return this.fail(`undefined variable: ${name}`);
  }

  setVar(name: string, value: Value): void {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      const v = this.vars[i] as Variable;
      if (v.name === name) {
        v.value = value;
        return;
      }
    }
    this.fail(`undefined variable: ${name}`);
  }

  // ------------------------------------------------------------------ pipelines

  evalPipeline(dot: Value, pipe: PipeNode): Value {
    this.setAt(pipe);
    let value: Final = MISSING;
    for (const cmd of pipe.cmds) {
      this.budget.step(this.where());
      value = this.evalCommand(dot, cmd, value);
    }
    const v = value === MISSING ? null : value;
    for (const name of pipe.decl) {
      if (pipe.isAssign) this.setVar(name, v);
      else this.vars.push({ name, value: v });
    }
    return v;
  }

  notAFunction(args: ArgNode[], final: Final): void {
    if (args.length > 1 || final !== MISSING) {
      this.fail(`can't give argument to non-function ${srcOf(args[0] as ArgNode)}`);
    }
  }

  evalCommand(dot: Value, cmd: CommandNode, final: Final): Value {
    const first = cmd.args[0] as ArgNode;
    switch (first.t) {
      case 'field':
        this.setAt(first);
        return this.evalFieldChain(dot, dot, first.idents, cmd.args, final);
      case 'chain': {
        this.setAt(first);
        if (first.node.t === 'nil') this.fail(`indirection through explicit nil in ${first.src}`);
        const recv = this.evalArg(dot, 'value', first.node);
        return this.evalFieldChain(dot, recv, first.fields, cmd.args, final);
      }
      case 'identifier':
        this.setAt(first);
        return this.evalFunction(dot, first.name, cmd.args, final);
      case 'pipe':
        this.notAFunction(cmd.args, final);
        return this.nested(() => this.evalPipeline(dot, first));
      case 'variable': {
        this.setAt(first);
        const v = this.varValue(first.idents[0] as string);
        if (first.idents.length === 1) {
          this.notAFunction(cmd.args, final);
          return v;
        }
        return this.evalFieldChain(dot, v, first.idents.slice(1), cmd.args, final);
      }
    }
    this.setAt(first);
    this.notAFunction(cmd.args, final);
    switch (first.t) {
      case 'bool':
        return first.value;
      case 'dot':
        return dot;
      case 'nil':
        return this.fail('nil is not a command');
      case 'number':
        return this.idealConstant(first);
      case 'string':
        return first.text;
    }
  }

  nested<T>(f: () => T): T {
    this.budget.enter(`parenthesised pipeline at ${this.where()}`);
    try {
      return f();
    } finally {
      this.budget.leave();
    }
  }

  idealConstant(n: NumberNode): Value {
    this.setAt(n);
    const text = n.text;
    const isHexInt = /^0[xX]/.test(text) && !/[pP]/.test(text);
    if (n.isFloat && !isHexInt && !text.startsWith("'") && /[.eEpP]/.test(text)) return n.float64;
    if (n.isInt) return new GoInt(n.int64, 'int');
    if (n.isUint) return this.fail(`${text} overflows int`);
    return null;
  }

  evalFieldChain(dot: Value, receiver: Value, idents: string[], args: ArgNode[], final: Final): Value {
    let r = receiver;
    for (let i = 0; i < idents.length - 1; i++) r = this.evalField(dot, idents[i] as string, [], MISSING, r);
    return this.evalField(dot, idents[idents.length - 1] as string, args, final, r);
  }

  evalField(dot: Value, field: string, args: ArgNode[], final: Final, receiver: Value): Value {
    if (receiver === null) this.fail(`nil pointer evaluating interface {}.${field}`);
    const hasArgs = args.length > 1 || final !== MISSING;
    if (receiver instanceof GoStruct) {
      const method = receiver.methods.get(field);
      if (method !== undefined) {
        const call: GoFunc['call'] = (a, ctx) => method.call(a, { ...ctx, receiver });
        return this.evalCall(dot, { params: method.params, call }, field, args, final);
      }
      if (receiver.fields.has(field)) {
        if (hasArgs) this.fail(`${field} has arguments but cannot be invoked as function`);
        return receiver.fields.get(field) ?? null;
      }
    } else if (receiver instanceof GoInt && INT_METHODS[receiver.type]?.has(field)) {
      const method = INT_METHODS[receiver.type]?.get(field) as GoMethod;
      const call: GoFunc['call'] = (a, ctx) => method.call(a, { ...ctx, receiver });
      return this.evalCall(dot, { params: method.params, call }, field, args, final);
    } else if (receiver instanceof GoMap) {
      if (hasArgs) this.fail(`${field} is not a method but has arguments`);
      if (!receiver.m.has(field)) this.fail(`map has no entry for key ${JSON.stringify(field)}`);
      return receiver.m.get(field) ?? null;
    }
    return this.fail(`can't evaluate field ${field} in type ${typeName(receiver)}`);
  }

  evalFunction(dot: Value, name: string, args: ArgNode[], final: Final): Value {
    const f = this.opts.funcs.get(name);
    if (f === undefined) return this.fail(`${JSON.stringify(name)} is not a defined function`);
    return this.evalCall(dot, f, name, args, final);
  }

  evalCall(dot: Value, f: GoFunc, name: string, allArgs: ArgNode[], final: Final): Value {
    const where = `${name} at ${this.where()}`;
    const args = allArgs.slice(1);
    const numIn = args.length + (final !== MISSING ? 1 : 0);
    const fixed = f.params.length;
    if (f.variadic !== undefined) {
      if (numIn < fixed)
        this.fail(`wrong number of args for ${name}: want at least ${fixed} got ${args.length}`);
    } else if (numIn !== fixed) {
      this.fail(`wrong number of args for ${name}: want ${fixed} got ${numIn}`);
    }
    this.budget.step(this.where());
    if ((name === 'and' || name === 'or') && f.variadic === 'value') {
      let v: Value = null;
      for (const a of args) {
        v = this.evalArg(dot, 'value', a);
        if (isTrue(v) === (name === 'or')) return v;
      }
      if (final !== MISSING) v = final;
      return v;
    }
    const argv: Value[] = [];
    const literal: boolean[] = [];
    let i = 0;
    for (; i < fixed && i < args.length; i++) {
      argv.push(this.evalArg(dot, f.params[i] as ParamType, args[i] as ArgNode));
      literal.push((args[i] as ArgNode).t === 'string');
    }
    if (f.variadic !== undefined) {
      for (; i < args.length; i++) {
        argv.push(this.evalArg(dot, f.variadic, args[i] as ArgNode));
        literal.push((args[i] as ArgNode).t === 'string');
      }
    }
    if (final !== MISSING) {
      let t: ParamType;
      if (f.variadic !== undefined && numIn - 1 >= fixed) t = f.variadic;
      else t = f.params[numIn - 1] as ParamType;
      argv.push(this.validateType(final, t));
      literal.push(false);
    }
    const ctx: CallContext = { budget: this.budget, env: this.opts.env, where, literal };
    let result: Value;
    try {
      result = f.call(argv, ctx);
    } catch (e) {
      if (e instanceof TemplateLimitError || e instanceof TemplateError) throw e;
      if (e instanceof FuncError) this.fail(`error calling ${name}: ${e.message}`);
      if (e instanceof RangeError) this.budget.fail('value', where);
      // Go recovers a panicking function into an error; third-party text is not repeated.
      this.fail(`error calling ${name}: the function failed`);
    }
    this.budget.alloc(sizeOf(result), where);
    return result;
  }

  validateType(value: Value, t: ParamType): Value {
    if (t === 'any' || t === 'value') return value;
    if (value === null) {
      if (t === 'map' || t === 'list') return null;
      return this.fail(`invalid value; expected ${GO_TYPE[t]}`);
    }
    if (assignable(value, t)) return value;
    return this.fail(`wrong type for value; expected ${GO_TYPE[t]}; got ${typeName(value)}`);
  }

  evalArg(dot: Value, t: ParamType, n: ArgNode): Value {
    this.setAt(n);
    switch (n.t) {
      case 'dot':
        return this.validateType(dot, t);
      case 'nil':
        if (t === 'any' || t === 'value' || t === 'map' || t === 'list') return null;
        return this.fail(`cannot assign nil to ${GO_TYPE[t]}`);
      case 'field':
        return this.validateType(this.evalFieldChain(dot, dot, n.idents, [n], MISSING), t);
      case 'variable': {
        const v = this.varValue(n.idents[0] as string);
        return this.validateType(
          n.idents.length === 1 ? v : this.evalFieldChain(dot, v, n.idents.slice(1), [], MISSING),
          t,
        );
      }
      case 'pipe':
        return this.validateType(
          this.nested(() => this.evalPipeline(dot, n)),
          t,
        );
      case 'identifier':
        return this.validateType(this.evalFunction(dot, n.name, [n], MISSING), t);
      case 'chain': {
        if (n.node.t === 'nil') this.fail(`indirection through explicit nil in ${n.src}`);
        const recv = this.evalArg(dot, 'value', n.node);
        return this.validateType(this.evalFieldChain(dot, recv, n.fields, [], MISSING), t);
      }
    }
    switch (t) {
      case 'bool':
        if (n.t === 'bool') return n.value;
        return this.fail(`expected bool; found ${n.src}`);
      case 'float64':
        if (n.t === 'number' && n.isFloat) return n.float64;
        return this.fail(`expected float; found ${n.src}`);
      case 'int':
      case 'int64':
        if (n.t === 'number' && n.isInt) return new GoInt(n.int64, t);
        return this.fail(`expected integer; found ${n.src}`);
      case 'duration':
        if (n.t === 'number' && n.isInt) return new GoInt(n.int64, 'time.Duration');
        return this.fail(`expected integer; found ${n.src}`);
      case 'uint32':
        if (n.t === 'number' && n.isUint) return new GoInt(n.int64, 'uint32');
        return this.fail(`expected unsigned integer; found ${n.src}`);
      case 'string':
        if (n.t === 'string') return n.text;
        return this.fail(`expected string; found ${n.src}`);
      case 'any':
      case 'value':
        if (n.t === 'bool') return n.value;
        if (n.t === 'number') return this.idealConstant(n);
        if (n.t === 'string') return n.text;
        break;
    }
    return this.fail(`can't handle ${n.src} for arg of type ${GO_TYPE[t]}`);
  }
}

function assignable(v: Value, t: ParamType): boolean {
  switch (t) {
    case 'string':
      return typeof v === 'string';
    case 'bool':
      return typeof v === 'boolean';
    case 'float64':
      return typeof v === 'number';
    case 'int':
    case 'int64':
    case 'uint32':
      return v instanceof GoInt && v.type === t;
    case 'map':
      return v instanceof GoMap && v.elem === 'interface {}';
    case 'list':
      return v instanceof GoSlice && v.elem === 'interface {}';
    case 'time':
      return v instanceof GoStruct && v.type === 'time.Time';
    case 'duration':
      return v instanceof GoInt && v.type === 'time.Duration';
    case 'certificate':
      return v instanceof GoStruct && v.type === 'sprig.certificate';
    default:
      return true;
  }
}

function srcOf(n: ArgNode): string {
  return n.t === 'pipe' ? `(${n.src})` : n.src;
}
