/**
 * Errors of the template engine. Parse and execution errors read as Go's do
 * (`template: tls.crt:1:5: executing "tls.crt" at <.missing>: map has no entry for key "missing"`)
 * without ever quoting a value: they name positions, functions, keys of the template and types.
 */
import { EswError } from '../errors.ts';

export class TemplateError extends EswError {
  constructor(message: string) {
    super('ESW_TEMPLATE', message);
  }
}
