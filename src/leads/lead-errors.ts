import { AppError } from '../platform/errors.js';

export function leadNotFound(id: string): AppError {
  return new AppError('lead_not_found', `No lead has id ${id}`, [{ field: 'id', location: 'path', message: 'no lead has this id' }]);
}

export function emailSuppressed(email: string): AppError {
  return new AppError('email_suppressed', `${email} was erased or is permanently suppressed; Baton will not store it again`, [
    { field: 'email', location: 'body', message: 'email is suppressed' },
  ]);
}
