/**
 * A wire-level fake of AWS Systems Manager Parameter Store: JSON 1.1 (`x-amz-target:
 * AmazonSSM.<Operation>`) for GetParameter, GetParameters, GetParametersByPath,
 * DescribeParameters and ListTagsForResource. Parameters keep numbered versions and labels
 * (`name:3`, `name:label` selectors), String / StringList / SecureString types (a SecureString
 * read without decryption answers ciphertext, as SSM does) and tags. It enforces SSM's limits the
 * client must respect (10 names a GetParameters call, 10 a GetParametersByPath page, 50 a
 * DescribeParameters page, paths that start with `/`), counts calls and injects faults.
 */
import { AwsJsonError, AwsJsonFake, type JsonBody } from './aws-json.ts';

export type SsmType = 'String' | 'StringList' | 'SecureString';

interface Version {
  version: number;
  value: string;
  labels: string[];
}

interface Param {
  name: string;
  arn: string;
  type: SsmType;
  versions: Version[];
  tags: Map<string, string>;
  /** KMS refuses to decrypt it for this caller. */
  denyDecrypt?: boolean;
}

const notFound = () => new AwsJsonError(400, 'ParameterNotFound', 'Parameter not found.');

export class AwsSsmFake extends AwsJsonFake {
  readonly #params = new Map<string, Param>();
  /** WithDecryption of each read (GetParameter, GetParameters, GetParametersByPath). */
  readonly decryption: boolean[] = [];

  private constructor() {
    super('AmazonSSM');
  }

  static async start(): Promise<AwsSsmFake> {
    const fake = new AwsSsmFake();
    await fake.listen();
    return fake;
  }

  /** PutParameter: a new version (1, 2, …) that becomes the current one. Returns its number. */
  put(
    name: string,
    value: string,
    opts: { type?: SsmType; tags?: Record<string, string>; labels?: string[] } = {},
  ): number {
    let p = this.#params.get(name);
    if (!p) {
      p = {
        name,
        arn: `arn:aws:ssm:eu-west-1:123456789012:parameter${name.startsWith('/') ? '' : '/'}${name}`,
        type: opts.type ?? 'String',
        versions: [],
        tags: new Map(),
      };
      this.#params.set(name, p);
    }
    if (opts.type) p.type = opts.type;
    if (opts.tags) p.tags = new Map(Object.entries(opts.tags));
    const version = (p.versions.at(-1)?.version ?? 0) + 1;
    // A label names one version: moving it takes it from the version that had it.
    for (const l of opts.labels ?? []) for (const v of p.versions) v.labels = v.labels.filter((x) => x !== l);
    p.versions.push({ version, value, labels: [...(opts.labels ?? [])] });
    return version;
  }

  delete(name: string): void {
    this.#params.delete(name);
  }

  denyDecrypt(name: string): void {
    const p = this.#params.get(name);
    if (p) p.denyDecrypt = true;
  }

  protected namesOf(op: string, body: JsonBody): string[] {
    if (op === 'GetParameters') return ((body.Names as string[] | undefined) ?? []).map(String);
    if (op === 'GetParameter') return [String(body.Name ?? '')];
    if (op === 'GetParametersByPath') return [String(body.Path ?? '')];
    if (op === 'ListTagsForResource') return [String(body.ResourceId ?? '')];
    return [];
  }

  protected dispatch(op: string, body: JsonBody): unknown {
    switch (op) {
      case 'GetParameter':
        return this.#getParameter(body);
      case 'GetParameters':
        return this.#getParameters(body);
      case 'GetParametersByPath':
        return this.#byPath(body);
      case 'DescribeParameters':
        return this.#describe(body);
      case 'ListTagsForResource':
        return this.#tags(body);
      default:
        throw new AwsJsonError(400, 'UnknownOperationException', `unknown operation ${op}`);
    }
  }

  /** `name`, `arn`, `name:3`, `name:label` -> the parameter and the version asked for. */
  #resolve(id: string): { p: Param; v: Version; selector?: string } {
    const whole = this.#find(id);
    if (whole) return { p: whole, v: whole.versions.at(-1) as Version };
    const colon = id.lastIndexOf(':');
    const p = colon > 0 ? this.#find(id.slice(0, colon)) : undefined;
    if (!p) throw notFound();
    const selector = id.slice(colon + 1);
    const v = /^\d+$/.test(selector)
      ? p.versions.find((x) => x.version === Number(selector))
      : p.versions.find((x) => x.labels.includes(selector));
    if (!v) throw new AwsJsonError(400, 'ParameterVersionNotFound', 'version not found');
    return { p, v, selector: `:${selector}` };
  }

  #find(id: string): Param | undefined {
    return this.#params.get(id) ?? [...this.#params.values()].find((p) => p.arn === id);
  }

  #answer(p: Param, v: Version, decrypt: boolean, selector?: string) {
    let value = v.value;
    if (p.type === 'SecureString') {
      if (decrypt && p.denyDecrypt) {
        throw new AwsJsonError(400, 'AccessDeniedException', 'not authorized to perform kms:Decrypt');
      }
      if (!decrypt) value = `AQICAHh${Buffer.from(v.value).toString('base64').replace(/=/g, '')}`;
    }
    return {
      Name: p.name,
      Type: p.type,
      Value: value,
      Version: v.version,
      ...(selector ? { Selector: selector } : {}),
      LastModifiedDate: 1_700_000_000,
      ARN: p.arn,
      DataType: 'text',
    };
  }

  #getParameter(body: JsonBody) {
    const decrypt = body.WithDecryption === true;
    this.decryption.push(decrypt);
    const { p, v, selector } = this.#resolve(String(body.Name ?? ''));
    return { Parameter: this.#answer(p, v, decrypt, selector) };
  }

  #getParameters(body: JsonBody) {
    const names = ((body.Names as unknown[] | undefined) ?? []).map(String);
    const decrypt = body.WithDecryption === true;
    this.decryption.push(decrypt);
    if (names.length < 1 || names.length > 10) {
      throw new AwsJsonError(400, 'ValidationException', 'Names must hold between 1 and 10 names');
    }
    // Stricter than SSM, which takes the same name twice: proves each name is asked once.
    if (new Set(names).size !== names.length) {
      throw new AwsJsonError(400, 'ValidationException', 'duplicate names');
    }
    const Parameters: unknown[] = [];
    const InvalidParameters: string[] = [];
    for (const name of names) {
      try {
        const { p, v, selector } = this.#resolve(name);
        // One SecureString the caller may not decrypt fails the whole call, as KMS does.
        Parameters.push(this.#answer(p, v, decrypt, selector));
      } catch (err: unknown) {
        if (err instanceof AwsJsonError && err.type !== 'AccessDeniedException') InvalidParameters.push(name);
        else throw err;
      }
    }
    return { Parameters, InvalidParameters };
  }

  #page<T>(items: T[], body: JsonBody, max: number): { page: T[]; next?: string } {
    const size = Number(body.MaxResults ?? max);
    if (!Number.isInteger(size) || size < 1 || size > max) {
      throw new AwsJsonError(400, 'ValidationException', `MaxResults must be between 1 and ${max}`);
    }
    const start = Number(body.NextToken ?? 0);
    const page = items.slice(start, start + size);
    return start + size < items.length ? { page, next: String(start + size) } : { page };
  }

  /** Hierarchical names under `path`; a name without a leading `/` is under no path. */
  #under(path: string, recursive: boolean): Param[] {
    const base = path.endsWith('/') ? path : `${path}/`;
    return [...this.#params.values()].filter((p) => {
      if (!p.name.startsWith('/') || !p.name.startsWith(base)) return false;
      return recursive || !p.name.slice(base.length).includes('/');
    });
  }

  #byPath(body: JsonBody) {
    const path = String(body.Path ?? '');
    if (!path.startsWith('/')) {
      throw new AwsJsonError(
        400,
        'ValidationException',
        "The parameter doesn't meet the parameter name requirements",
      );
    }
    const decrypt = body.WithDecryption === true;
    this.decryption.push(decrypt);
    const { page, next } = this.#page(this.#under(path, body.Recursive === true), body, 10);
    return {
      Parameters: page.map((p) => this.#answer(p, p.versions.at(-1) as Version, decrypt)),
      ...(next ? { NextToken: next } : {}),
    };
  }

  #describe(body: JsonBody) {
    const filters = (body.ParameterFilters as { Key: string; Option?: string; Values?: string[] }[]) ?? [];
    let params = [...this.#params.values()];
    for (const f of filters) {
      const values = f.Values ?? [];
      if (f.Key.startsWith('tag:')) {
        const key = f.Key.slice(4);
        if (f.Option && f.Option !== 'Equals')
          throw new AwsJsonError(400, 'InvalidFilterOption', 'tag filters take Equals');
        params = params.filter((p) => p.tags.has(key) && values.includes(p.tags.get(key) as string));
      } else if (f.Key === 'Path') {
        const under = new Set(values.flatMap((v) => this.#under(v, f.Option === 'Recursive')));
        params = params.filter((p) => under.has(p));
      } else if (f.Key === 'Name') {
        params = params.filter((p) =>
          values.some((v) => (f.Option === 'BeginsWith' ? p.name.startsWith(v) : p.name === v)),
        );
      } else throw new AwsJsonError(400, 'InvalidFilterKey', 'unknown filter key');
    }
    const { page, next } = this.#page(params, body, 50);
    return {
      Parameters: page.map((p) => ({
        Name: p.name,
        ARN: p.arn,
        Type: p.type,
        Version: p.versions.at(-1)?.version,
        LastModifiedDate: 1_700_000_000,
        DataType: 'text',
      })),
      ...(next ? { NextToken: next } : {}),
    };
  }

  #tags(body: JsonBody) {
    if (body.ResourceType !== 'Parameter') throw new AwsJsonError(400, 'InvalidResourceType', 'bad type');
    const p = this.#find(String(body.ResourceId ?? ''));
    if (!p) throw new AwsJsonError(400, 'InvalidResourceId', 'The resource ID is not valid.');
    return { TagList: [...p.tags].map(([Key, Value]) => ({ Key, Value })) };
  }
}
