import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    // The emulator's core is the only writer of its records: the OpenAPI surface and the admin API
    // change the emulated cloud through the core's methods, never through the store or the journal.
    files: ['src/emulator/openapi/**/*.ts', 'src/emulator/admin/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '(^|/)engine/(store|journal)(\\.ts)?$',
              message:
                'Change the emulated cloud through EmulatorCore methods; only the core writes the store.',
            },
          ],
        },
      ],
    },
  },
);
