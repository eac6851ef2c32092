/**
 * The parser of Go's text/template (text/template/parse/parse.go): the same tree, the same
 * checks at parse time (an unknown function, an undefined variable, `break` outside `range`, a
 * literal as a later pipeline stage, `else` and `end` out of place), `else if` and `else with`
 * chains, `define` / `block` collected into a set of named trees.
 */

import { TemplateError } from './errors.ts';
import { type Item, type ItemType, lex } from './lexer.ts';
import { goParseFloat, goParseInt, goParseUint } from './strconv.ts';
import { goString } from './values.ts';

export interface Pos {
  pos: number;
}

export type Node =
  | TextNode
  | ActionNode
  | IfNode
  | WithNode
  | RangeNode
  | TemplateNode
  | BreakNode
  | ContinueNode;

export interface ListNode extends Pos {
  t: 'list';
  nodes: Node[];
}
export interface TextNode extends Pos {
  t: 'text';
  text: string;
}
export interface ActionNode extends Pos {
  t: 'action';
  pipe: PipeNode;
}
export interface IfNode extends Pos {
  t: 'if';
  pipe: PipeNode;
  list: ListNode;
  elseList: ListNode | undefined;
}
export interface WithNode extends Pos {
  t: 'with';
  pipe: PipeNode;
  list: ListNode;
  elseList: ListNode | undefined;
}
export interface RangeNode extends Pos {
  t: 'range';
  pipe: PipeNode;
  list: ListNode;
  elseList: ListNode | undefined;
}
export interface TemplateNode extends Pos {
  t: 'template';
  name: string;
  pipe: PipeNode | undefined;
}
export interface BreakNode extends Pos {
  t: 'break';
}
export interface ContinueNode extends Pos {
  t: 'continue';
}
export interface PipeNode extends Pos {
  t: 'pipe';
  decl: string[];
  isAssign: boolean;
  cmds: CommandNode[];
  src: string;
}
export interface CommandNode extends Pos {
  t: 'command';
  args: ArgNode[];
}
export interface NumberNode extends Pos {
  t: 'number';
  text: string;
  isInt: boolean;
  isUint: boolean;
  isFloat: boolean;
  isComplex: boolean;
  int64: bigint;
  float64: number;
}
export type ArgNode =
  | (Pos & { t: 'field'; idents: string[]; src: string })
  | (Pos & { t: 'chain'; node: ArgNode; fields: string[]; src: string })
  | (Pos & { t: 'identifier'; name: string; src: string })
  | (Pos & { t: 'variable'; idents: string[]; src: string })
  | (Pos & { t: 'dot'; src: string })
  | (Pos & { t: 'nil'; src: string })
  | (Pos & { t: 'bool'; value: boolean; src: string })
  | (NumberNode & { src: string })
  | (Pos & { t: 'string'; text: string; src: string })
  | PipeNode;

export interface Tree {
  name: string;
  root: ListNode;
}

export interface ParseResult {
  /** The main template first, then every `define`d and `block` template by name. */
  trees: Map<string, Tree>;
  /** Turns a byte offset into `name:line:col`. */
  position: (pos: number) => { line: number; col: number };
}

const MAX_NESTING = 100;

/**
 * Parse `source` as template `name`, resolving function names with `hasFunction` (Go checks
 * them at parse time: an unknown function is a parse error, before any data is seen).
 */
export function parse(name: string, source: string, hasFunction: (name: string) => boolean): ParseResult {
  // Line starts for positions.
  const lineStarts = [0];
  for (let i = source.indexOf('\n'); i >= 0; i = source.indexOf('\n', i + 1)) lineStarts.push(i + 1);
  const position = (pos: number) => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((lineStarts[mid] ?? 0) <= pos) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: pos - (lineStarts[lo] ?? 0) };
  };
  const where = (pos: number) => {
    const p = position(pos);
    return `template: ${name}:${p.line}:${p.col}`;
  };
  const items = lex(source, where);
  const trees = new Map<string, Tree>();
  let i = 0;
  let vars: string[] = ['$'];
  let rangeDepth = 0;
  let nesting = 0;

  const fail = (pos: number, msg: string): never => {
    throw new TemplateError(`${where(pos)}: ${msg}`);
  };
  const peek = (): Item => items[i] as Item;
  const next = (): Item => items[i++] as Item;
  const backup = (n = 1) => {
    i -= n;
  };
  const nextNonSpace = (): Item => {
    let it = next();
    while (it.type === 'space') it = next();
    return it;
  };
  const peekNonSpace = (): Item => {
    const it = nextNonSpace();
    backup();
    return it;
  };
  const describe = (it: Item): string => {
    if (it.type === 'eof') return 'EOF';
    if (it.type === 'text' || it.type === 'string' || it.type === 'rawString')
      return JSON.stringify(it.val.slice(0, 40));
    return `<${it.val.slice(0, 40)}>`;
  };
  const unexpected = (it: Item, context: string): never =>
    fail(it.pos, `unexpected ${describe(it)} in ${context}`);
  const expect = (type: ItemType, context: string): Item => {
    const it = nextNonSpace();
    if (it.type !== type) unexpected(it, context);
    return it;
  };

  type End = { t: 'end' | 'else'; pos: number; elseIf: boolean; elseWith: boolean };
  const isEnd = (n: Node | End): n is End => n.t === 'end' || n.t === 'else';

  const itemList = (): { list: ListNode; end: End } => {
    const list: ListNode = { t: 'list', nodes: [], pos: peekNonSpace().pos };
    while (peekNonSpace().type !== 'eof') {
      const n = textOrAction();
      if (n === undefined) continue;
      if (isEnd(n)) return { list, end: n };
      list.nodes.push(n);
    }
    return fail(peek().pos, 'unexpected EOF');
  };

  const textOrAction = (): Node | End | undefined => {
    const it = nextNonSpace();
    if (it.type === 'text') return { t: 'text', text: it.val, pos: it.pos };
    if (it.type === 'leftDelim') return action();
    return unexpected(it, 'input');
  };

  const action = (): Node | End | undefined => {
    const it = nextNonSpace();
    switch (it.type) {
      case 'block':
        return blockControl(it);
      case 'break':
      case 'continue': {
        const t = nextNonSpace();
        if (t.type !== 'rightDelim') unexpected(t, `{{${it.type}}}`);
        if (rangeDepth === 0) fail(it.pos, `{{${it.type}}} outside {{range}}`);
        return { t: it.type, pos: it.pos };
      }
      case 'else': {
        const p = peekNonSpace();
        if (p.type === 'if' || p.type === 'with') {
          return { t: 'else', pos: p.pos, elseIf: p.type === 'if', elseWith: p.type === 'with' };
        }
        const t = expect('rightDelim', 'else');
        return { t: 'else', pos: t.pos, elseIf: false, elseWith: false };
      }
      case 'end':
        return { t: 'end', pos: expect('rightDelim', 'end').pos, elseIf: false, elseWith: false };
      case 'if':
        return control('if', it.pos);
      case 'range':
        return control('range', it.pos);
      case 'with':
        return control('with', it.pos);
      case 'template':
        return templateControl();
      case 'define':
        return fail(it.pos, 'unexpected <define> in command');
    }
    backup();
    const p = peek();
    return { t: 'action', pipe: pipeline('command', 'rightDelim'), pos: p.pos };
  };

  const control = (context: 'if' | 'range' | 'with', pos: number): Node => {
    const mark = vars.length;
    if (++nesting > MAX_NESTING) fail(pos, `nesting deeper than ${MAX_NESTING}`);
    const pipe = pipeline(context, 'rightDelim');
    if (context === 'range') rangeDepth++;
    const { list, end } = itemList();
    if (context === 'range') rangeDepth--;
    let elseList: ListNode | undefined;
    if (end.t === 'else') {
      if ((context === 'if' && end.elseIf) || (context === 'with' && end.elseWith)) {
        next(); // consume "if" / "with"
        elseList = { t: 'list', nodes: [control(context, end.pos)], pos: end.pos };
      } else if (end.elseIf || end.elseWith) {
        // `else if` inside with/range, `else with` inside if/range: as Go, an error.
        fail(end.pos, `unexpected <${end.elseIf ? 'if' : 'with'}> in else`);
      } else {
        const rest = itemList();
        if (rest.end.t !== 'end') fail(rest.end.pos, 'expected end; found {{else}}');
        elseList = rest.list;
      }
    }
    vars = vars.slice(0, mark);
    nesting--;
    return { t: context, pipe, list, elseList, pos: pipe.pos } as Node;
  };

  const templateName = (it: Item, context: string): string => {
    if (it.type !== 'string' && it.type !== 'rawString') unexpected(it, context);
    return unquote(it);
  };

  const templateControl = (): Node => {
    const it = nextNonSpace();
    const tname = templateName(it, 'template clause');
    let pipe: PipeNode | undefined;
    if (nextNonSpace().type !== 'rightDelim') {
      backup();
      pipe = pipeline('template clause', 'rightDelim');
    }
    return { t: 'template', name: tname, pipe, pos: it.pos };
  };

  const blockControl = (kw: Item): Node => {
    const it = nextNonSpace();
    const tname = templateName(it, 'block clause');
    const pipe = pipeline('block clause', 'rightDelim');
    const saved = { vars, rangeDepth };
    vars = ['$'];
    rangeDepth = 0;
    const { list, end } = itemList();
    if (end.t !== 'end') fail(end.pos, 'unexpected {{else}} in block clause');
    vars = saved.vars;
    rangeDepth = saved.rangeDepth;
    addTree(tname, list, kw.pos);
    return { t: 'template', name: tname, pipe, pos: it.pos };
  };

  const definition = (): void => {
    const it = nextNonSpace();
    const tname = templateName(it, 'define clause');
    expect('rightDelim', 'define clause');
    const saved = { vars, rangeDepth };
    vars = ['$'];
    rangeDepth = 0;
    const { list, end } = itemList();
    if (end.t !== 'end') fail(end.pos, 'unexpected {{else}} in define clause');
    vars = saved.vars;
    rangeDepth = saved.rangeDepth;
    addTree(tname, list, it.pos);
  };

  const addTree = (tname: string, root: ListNode, pos: number) => {
    const existing = trees.get(tname);
    if (existing === undefined || isEmptyTree(existing.root)) {
      trees.set(tname, { name: tname, root });
      return;
    }
    if (!isEmptyTree(root)) fail(pos, `template: multiple definition of template ${JSON.stringify(tname)}`);
  };

  const pipeline = (context: string, end: ItemType): PipeNode => {
    const first = peekNonSpace();
    const pipe: PipeNode = { t: 'pipe', decl: [], isAssign: false, cmds: [], pos: first.pos, src: '' };
    const startItem = i;
    for (;;) {
      const v = peekNonSpace();
      if (v.type !== 'variable') break;
      nextNonSpace();
      const after = peek();
      const nx = peekNonSpace();
      if (nx.type === 'assign' || nx.type === 'declare') {
        pipe.isAssign = nx.type === 'assign';
        nextNonSpace();
        pipe.decl.push(v.val);
        vars.push(v.val);
        break;
      }
      if (nx.type === 'char' && nx.val === ',') {
        nextNonSpace();
        pipe.decl.push(v.val);
        vars.push(v.val);
        if (context === 'range' && pipe.decl.length < 2) {
          const p = peekNonSpace().type;
          if (p === 'variable' || p === 'rightDelim' || p === 'rightParen') continue;
          fail(v.pos, 'range can only initialize variables');
        }
        fail(v.pos, `too many declarations in ${context}`);
      }
      if (after.type === 'space') {
        // `$x ` followed by something else: a command starting with the variable.
        i = indexOfItem(v);
      } else {
        i = indexOfItem(v);
      }
      break;
    }
    for (;;) {
      const it = nextNonSpace();
      if (it.type === end) {
        if (pipe.cmds.length === 0) fail(it.pos, `missing value for ${context}`);
        pipe.cmds.slice(1).forEach((c, k) => {
          const a = c.args[0];
          if (
            a &&
            (a.t === 'bool' || a.t === 'dot' || a.t === 'nil' || a.t === 'number' || a.t === 'string')
          ) {
            fail(c.pos, `non executable command in pipeline stage ${k + 2}`);
          }
        });
        pipe.src = items
          .slice(startItem, i - 1)
          .map((x) => x.val)
          .join('')
          .trim();
        return pipe;
      }
      switch (it.type) {
        case 'bool':
        case 'charConstant':
        case 'complex':
        case 'dot':
        case 'field':
        case 'identifier':
        case 'number':
        case 'nil':
        case 'rawString':
        case 'string':
        case 'variable':
        case 'leftParen':
          backup();
          pipe.cmds.push(command());
          break;
        default:
          unexpected(it, context);
      }
    }
  };

  const indexOfItem = (it: Item): number => items.indexOf(it);

  const command = (): CommandNode => {
    const cmd: CommandNode = { t: 'command', args: [], pos: peekNonSpace().pos };
    for (;;) {
      peekNonSpace();
      const op = operand();
      if (op !== undefined) cmd.args.push(op);
      const it = next();
      if (it.type === 'space') continue;
      if (it.type === 'rightDelim' || it.type === 'rightParen') backup();
      else if (it.type !== 'pipe') unexpected(it, 'operand');
      break;
    }
    if (cmd.args.length === 0) fail(cmd.pos, 'empty command');
    return cmd;
  };

  const operand = (): ArgNode | undefined => {
    let node = term();
    if (node === undefined) return undefined;
    if (peek().type === 'field') {
      const fields: string[] = [];
      const pos = peek().pos;
      while (peek().type === 'field') fields.push(next().val.slice(1));
      switch (node.t) {
        case 'field':
          node = {
            t: 'field',
            idents: [...node.idents, ...fields],
            pos,
            src: `${node.src}.${fields.join('.')}`,
          };
          break;
        case 'variable':
          node = {
            t: 'variable',
            idents: [...node.idents, ...fields],
            pos,
            src: `${node.src}.${fields.join('.')}`,
          };
          break;
        case 'bool':
        case 'string':
        case 'number':
        case 'nil':
        case 'dot':
          fail(pos, `unexpected . after term ${JSON.stringify(node.src)}`);
          break;
        default:
          node = { t: 'chain', node, fields, pos, src: `${srcOf(node)}.${fields.join('.')}` };
      }
    }
    return node;
  };

  const term = (): ArgNode | undefined => {
    const it = nextNonSpace();
    switch (it.type) {
      case 'identifier':
        if (!hasFunction(it.val)) fail(it.pos, `function ${JSON.stringify(cut(it.val))} not defined`);
        return { t: 'identifier', name: it.val, pos: it.pos, src: it.val };
      case 'dot':
        return { t: 'dot', pos: it.pos, src: '.' };
      case 'nil':
        return { t: 'nil', pos: it.pos, src: 'nil' };
      case 'variable': {
        const idents = it.val.split('.');
        if (!vars.includes(idents[0] as string))
          fail(it.pos, `undefined variable ${JSON.stringify(idents[0])}`);
        return { t: 'variable', idents, pos: it.pos, src: it.val };
      }
      case 'field':
        return { t: 'field', idents: it.val.slice(1).split('.'), pos: it.pos, src: it.val };
      case 'bool':
        return { t: 'bool', value: it.val === 'true', pos: it.pos, src: it.val };
      case 'charConstant':
      case 'complex':
      case 'number':
        return { ...newNumber(it), src: it.val };
      case 'leftParen': {
        if (++nesting > MAX_NESTING) fail(it.pos, `nesting deeper than ${MAX_NESTING}`);
        const p = pipeline('parenthesized pipeline', 'rightParen');
        nesting--;
        return p;
      }
      case 'string':
      case 'rawString':
        return { t: 'string', text: unquote(it), pos: it.pos, src: it.val };
    }
    backup();
    return undefined;
  };

  const unquote = (it: Item): string => {
    if (it.type === 'rawString') return it.val.slice(1, -1).replace(/\r/g, '');
    const s = unquoteGo(it.val);
    if (s === undefined) fail(it.pos, 'invalid syntax');
    return s as string;
  };

  const newNumber = (it: Item): NumberNode => {
    const n: NumberNode = {
      t: 'number',
      text: it.val,
      pos: it.pos,
      isInt: false,
      isUint: false,
      isFloat: false,
      isComplex: false,
      int64: 0n,
      float64: 0,
    };
    if (it.type === 'charConstant') {
      const s = unquoteGo(`"${it.val.slice(1, -1).replace(/"/g, '\\"').replace(/\\'/g, "'")}"`);
      const cps = s === undefined ? [] : [...s];
      if (cps.length !== 1) fail(it.pos, `malformed character constant: ${cut(it.val)}`);
      const cp = (cps[0] as string).codePointAt(0) ?? 0;
      return { ...n, isInt: true, isUint: true, isFloat: true, int64: BigInt(cp), float64: cp };
    }
    if (it.type === 'complex' || it.val.endsWith('i')) {
      return fail(it.pos, `complex numbers are not supported: ${cut(it.val)}`);
    }
    const text = it.val;
    // text/template's newNumber: ParseUint, ParseInt, then ParseFloat (Go's strconv, base 0).
    const u = goParseUint(text);
    if (typeof u === 'bigint') {
      n.isUint = true;
      n.int64 = u;
    }
    const i = goParseInt(text);
    if (typeof i === 'bigint') {
      n.isInt = true;
      n.int64 = i;
      if (i === 0n) n.isUint = true; // -0
    }
    if (n.isInt || n.isUint) {
      n.isFloat = true;
      n.float64 = Number(n.int64);
    } else {
      const f = goParseFloat(text);
      if (typeof f === 'number') {
        if (!/[.eEpP]/.test(text)) fail(it.pos, `integer overflow: ${JSON.stringify(cut(text))}`);
        n.isFloat = true;
        n.float64 = f;
        if (Number.isInteger(f) && f >= -(2 ** 63) && f < 2 ** 63) {
          n.isInt = true;
          n.int64 = BigInt(f);
        }
        if (Number.isInteger(f) && f >= 0 && f < 2 ** 64) n.isUint = true;
      }
    }
    if (!n.isInt && !n.isUint && !n.isFloat)
      fail(it.pos, `illegal number syntax: ${JSON.stringify(cut(text))}`);
    return n;
  };

  // The main tree, then definitions wherever they appear at top level.
  const root: ListNode = { t: 'list', nodes: [], pos: 0 };
  while (peek().type !== 'eof') {
    if (peek().type === 'leftDelim') {
      const save = i;
      next();
      if (nextNonSpace().type === 'define') {
        definition();
        continue;
      }
      i = save;
    }
    const n = textOrAction();
    if (n === undefined) continue;
    if (isEnd(n)) return fail(n.pos, `unexpected {{${n.t}}}`);
    root.nodes.push(n);
  }
  const main = trees.get(name);
  if (main === undefined || isEmptyTree(main.root)) trees.set(name, { name, root });
  else if (!isEmptyTree(root)) fail(0, `template: multiple definition of template ${JSON.stringify(name)}`);
  // The main tree goes first in iteration order.
  const ordered = new Map<string, Tree>([[name, trees.get(name) as Tree]]);
  for (const [k, v] of trees) if (k !== name) ordered.set(k, v);
  return { trees: ordered, position };
}

function srcOf(n: ArgNode): string {
  return n.t === 'pipe' ? `(${n.src})` : n.src;
}

export function isEmptyTree(list: ListNode): boolean {
  return list.nodes.every((n) => n.t === 'text' && n.text.trim() === '');
}

/** Template text quoted in a message, cut short: a 1 MiB literal must not become a 1 MiB status. */
function cut(s: string): string {
  return s.length > 64 ? `${s.slice(0, 64)}…` : s;
}

/** strconv.Unquote of a double-quoted Go string literal. */
export function unquoteGo(lit: string): string | undefined {
  if (lit.length < 2 || lit[0] !== '"' || lit[lit.length - 1] !== '"') return undefined;
  const s = lit.slice(1, -1);
  let out = '';
  const bytes: number[] = [];
  const flush = () => {
    if (bytes.length) {
      out += goString(Buffer.from(bytes));
      bytes.length = 0;
    }
  };
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c === '"' || c === '\n') return undefined;
    if (c !== '\\') {
      flush();
      out += c;
      continue;
    }
    const e = s[++i];
    const simple: Record<string, string> = {
      a: '\x07',
      b: '\b',
      f: '\f',
      n: '\n',
      r: '\r',
      t: '\t',
      v: '\v',
      '\\': '\\',
      '"': '"',
    };
    if (e !== undefined && Object.hasOwn(simple, e)) {
      flush();
      out += simple[e];
      continue;
    }
    if (e === 'x') {
      const h = s.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(h)) return undefined;
      bytes.push(Number.parseInt(h, 16));
      i += 2;
      continue;
    }
    if (e !== undefined && e >= '0' && e <= '7') {
      const o = s.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(o)) return undefined;
      const v = Number.parseInt(o, 8);
      if (v > 255) return undefined;
      bytes.push(v);
      i += 2;
      continue;
    }
    if (e === 'u' || e === 'U') {
      const n = e === 'u' ? 4 : 8;
      const h = s.slice(i + 1, i + 1 + n);
      if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(h)) return undefined;
      const cp = Number.parseInt(h, 16);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) return undefined;
      flush();
      out += String.fromCodePoint(cp);
      i += n;
      continue;
    }
    return undefined;
  }
  flush();
  return out;
}
