/// The OpenAPI 3.1 description of the board API, served at `/api/v1/openapi.json`.
///
/// Kept in the binary so an installed `pier` needs no resource files. A test fails when a route is missing here or
/// documented but not routed, and `scripts/test` runs openapi-spec-validator on it.
enum OpenAPIDocument {
    static let json = #"""
        {
         "openapi": "3.1.0",
         "info": {
          "title": "Pier board API",
          "version": "1",
          "description": "The task board of Pier: accounts, boards, tasks, comments and history. Errors are RFC 9457 problem documents with a stable code. Authenticate with the access token as a Bearer token or the pier_access cookie; cookie requests that change data must carry an Origin header of the board's own origin or an allowed one."
         },
         "servers": [
          {
           "url": "/"
          }
         ],
         "security": [
          {
           "bearer": []
          },
          {
           "cookie": []
          }
         ],
         "tags": [
          {
           "name": "auth"
          },
          {
           "name": "users"
          },
          {
           "name": "boards"
          },
          {
           "name": "tasks"
          },
          {
           "name": "health"
          },
          {
           "name": "meta"
          }
         ],
         "paths": {
          "/healthz": {
           "get": {
            "operationId": "healthz",
            "summary": "Liveness: the process answers.",
            "responses": {
             "200": {
              "description": "OK",
              "content": {
               "application/json": {
                "schema": {
                 "type": "object",
                 "properties": {
                  "status": {
                   "const": "ok"
                  }
                 },
                 "required": [
                  "status"
                 ]
                }
               }
              }
             }
            },
            "tags": [
             "health"
            ],
            "security": []
           }
          },
          "/readyz": {
           "get": {
            "operationId": "readyz",
            "summary": "Readiness: the database is reachable and its schema is current.",
            "responses": {
             "200": {
              "description": "OK",
              "content": {
               "application/json": {
                "schema": {
                 "type": "object",
                 "properties": {
                  "status": {
                   "const": "ready"
                  }
                 },
                 "required": [
                  "status"
                 ]
                }
               }
              }
             },
             "503": {
              "$ref": "#/components/responses/NotReady"
             }
            },
            "tags": [
             "health"
            ],
            "security": []
           }
          },
          "/api/v1/openapi.json": {
           "get": {
            "operationId": "openapi",
            "summary": "This document.",
            "responses": {
             "200": {
              "description": "OK",
              "content": {
               "application/json": {
                "schema": {
                 "type": "object"
                }
               }
              }
             }
            },
            "tags": [
             "meta"
            ],
            "security": []
           }
          },
          "/api/v1/auth/login": {
           "post": {
            "operationId": "login",
            "summary": "Sign in with email and password.",
            "responses": {
             "200": {
              "description": "OK",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Tokens"
                }
               }
              },
              "headers": {
               "Set-Cookie": {
                "description": "pier_access and pier_refresh cookies (HttpOnly; Secure; SameSite=Strict).",
                "schema": {
                 "type": "string"
                }
               }
              }
             },
             "400": {
              "$ref": "#/components/responses/BadRequest"
             },
             "401": {
              "$ref": "#/components/responses/Unauthenticated"
             },
             "403": {
              "$ref": "#/components/responses/Forbidden"
             },
             "413": {
              "$ref": "#/components/responses/TooLarge"
             },
             "415": {
              "$ref": "#/components/responses/UnsupportedMediaType"
             },
             "429": {
              "$ref": "#/components/responses/TooManyAttempts"
             }
            },
            "description": "Returns both tokens in the body and as cookies. Failed attempts are throttled per account and per client address (429 with Retry-After). A disabled account gets the same 401 invalid_credentials as a wrong password.",
            "tags": [
             "auth"
            ],
            "requestBody": {
             "required": true,
             "content": {
              "application/json": {
               "schema": {
                "$ref": "#/components/schemas/LoginRequest"
               }
              }
             }
            },
            "security": []
           }
          },
          "/api/v1/auth/refresh": {
           "post": {
            "operationId": "refresh",
            "summary": "Exchange a refresh token for new tokens.",
            "responses": {
             "200": {
              "description": "OK",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Tokens"
                }
               }
              },
              "headers": {
               "Set-Cookie": {
                "description": "pier_access and pier_refresh cookies (HttpOnly; Secure; SameSite=Strict).",
                "schema": {
                 "type": "string"
                }
               }
              }
             },
             "400": {
              "$ref": "#/components/responses/BadRequest"
             },
             "401": {
              "$ref": "#/components/responses/Unauthenticated"
             },
             "403": {
              "$ref": "#/components/responses/Forbidden"
             },
             "415": {
              "$ref": "#/components/responses/UnsupportedMediaType"
             }
            },
            "description": "The refresh token comes from the body or the pier_refresh cookie (then an Origin check applies). Every refresh token works once; presenting a used one ends the whole session (401 refresh_token_reused).",
            "tags": [
             "auth"
            ],
            "requestBody": {
             "required": false,
             "content": {
              "application/json": {
               "schema": {
                "$ref": "#/components/schemas/RefreshRequest"
               }
              }
             }
            },
            "security": []
           }
          },
          "/api/v1/auth/logout": {
           "post": {
            "operationId": "logout",
            "summary": "End the session of a refresh token and clear the cookies.",
            "responses": {
             "204": {
              "description": "Signed out.",
              "headers": {
               "Set-Cookie": {
                "description": "pier_access and pier_refresh cookies (HttpOnly; Secure; SameSite=Strict).",
                "schema": {
                 "type": "string"
                }
               }
              }
             },
             "400": {
              "$ref": "#/components/responses/BadRequest"
             },
             "403": {
              "$ref": "#/components/responses/Forbidden"
             },
             "415": {
              "$ref": "#/components/responses/UnsupportedMediaType"
             }
            },
            "tags": [
             "auth"
            ],
            "requestBody": {
             "required": false,
             "content": {
              "application/json": {
               "schema": {
                "$ref": "#/components/schemas/RefreshRequest"
               }
              }
             }
            },
            "security": []
           }
          },
          "/api/v1/auth/public-key": {
           "get": {
            "operationId": "publicKey",
            "summary": "The PASERK of the key that verifies access tokens.",
            "responses": {
             "200": {
              "description": "OK",
              "content": {
               "application/json": {
                "schema": {
                 "type": "object",
                 "properties": {
                  "paserk": {
                   "type": "string",
                   "pattern": "^k4\\.public\\."
                  }
                 },
                 "required": [
                  "paserk"
                 ]
                }
               }
              }
             }
            },
            "tags": [
             "auth"
            ],
            "security": []
           }
          },
          "/api/v1/me": {
           "get": {
            "operationId": "me",
            "summary": "The signed-in user.",
            "responses": {
             "200": {
              "description": "OK",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/User"
                }
               }
              }
             },
             "401": {
              "$ref": "#/components/responses/Unauthenticated"
             }
            },
            "tags": [
             "users"
            ]
           }
          },
          "/api/v1/me/password": {
           "post": {
            "operationId": "changePassword",
            "summary": "Change your own password; every session of the account ends.",
            "responses": {
             "204": {
              "description": "Changed; sign in again."
             },
             "400": {
              "$ref": "#/components/responses/BadRequest"
             },
             "401": {
              "$ref": "#/components/responses/Unauthenticated"
             },
             "403": {
              "$ref": "#/components/responses/Forbidden"
             },
             "415": {
              "$ref": "#/components/responses/UnsupportedMediaType"
             },
             "429": {
              "$ref": "#/components/responses/TooManyAttempts"
             }
            },
            "tags": [
             "users"
            ],
            "requestBody": {
             "required": true,
             "content": {
              "application/json": {
               "schema": {
                "$ref": "#/components/schemas/ChangePasswordRequest"
               }
              }
             }
            }
           }
          },
          "/api/v1/users": {
           "get": {
            "operationId": "listUsers",
            "summary": "All users (Supervisor).",
            "responses": {
             "200": {
              "description": "OK",
              "content": {
               "application/json": {
                "schema": {
                 "type": "array",
                 "items": {
                  "$ref": "#/components/schemas/User"
                 }
                }
               }
              }
             },
             "401": {
              "$ref": "#/components/responses/Unauthenticated"
             },
             "403": {
              "$ref": "#/components/responses/Forbidden"
             }
            },
            "tags": [
             "users"
            ]
           },
           "post": {
            "operationId": "createUser",
            "summary": "Create a user (Supervisor); without a password one is generated and returned once.",
            "responses": {
             "201": {
              "description": "Created.",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/CreatedUser"
                }
               }
              }
             },
             "400": {
              "$ref": "#/components/responses/BadRequest"
             },
             "401": {
              "$ref": "#/components/responses/Unauthenticated"
             },
             "403": {
              "$ref": "#/components/responses/Forbidden"
             },
             "409": {
              "$ref": "#/components/responses/Conflict"
             },
             "415": {
              "$ref": "#/components/responses/UnsupportedMediaType"
             }
            },
            "tags": [
             "users"
            ],
            "requestBody": {
             "required": true,
             "content": {
              "application/json": {
               "schema": {
                "$ref": "#/components/schemas/CreateUserRequest"
               }
              }
             }
            }
           }
          },
          "/api/v1/users/{id}": {
           "patch": {
            "operationId": "updateUser",
            "summary": "Disable or re-enable a user (Supervisor, not yourself).",
            "responses": {
             "200": {
              "description": "OK",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/User"
                }
               }
              }
             },
             "400": {
              "$ref": "#/components/responses/BadRequest"
             },
             "401": {
              "$ref": "#/components/responses/Unauthenticated"
             },
             "403": {
              "$ref": "#/components/responses/Forbidden"
             },
             "404": {
              "$ref": "#/components/responses/NotFound"
             },
             "409": {
              "$ref": "#/components/responses/Conflict"
             },
             "415": {
              "$ref": "#/components/responses/UnsupportedMediaType"
             }
            },
            "tags": [
             "users"
            ],
            "requestBody": {
             "required": true,
             "content": {
              "application/json": {
               "schema": {
                "$ref": "#/components/schemas/UpdateUserRequest"
               }
              }
             }
            },
            "parameters": [
             {
              "$ref": "#/components/parameters/Id"
             }
            ]
           }
          },
          "/api/v1/users/{id}/password": {
           "post": {
            "operationId": "resetPassword",
            "summary": "Set a user's password (Supervisor); without one, a generated password is returned once. Every session of the account ends.",
            "responses": {
             "200": {
              "description": "The generated password.",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Password"
                }
               }
              }
             },
             "204": {
              "description": "The given password was set."
             },
             "400": {
              "$ref": "#/components/responses/BadRequest"
             },
             "401": {
              "$ref": "#/components/responses/Unauthenticated"
             },
             "403": {
              "$ref": "#/components/responses/Forbidden"
             },
             "404": {
              "$ref": "#/components/responses/NotFound"
             },
             "415": {
              "$ref": "#/components/responses/UnsupportedMediaType"
             }
            },
            "tags": [
             "users"
            ],
            "requestBody": {
             "required": false,
             "content": {
              "application/json": {
               "schema": {
                "$ref": "#/components/schemas/ResetPasswordRequest"
               }
              }
             }
            },
            "parameters": [
             {
              "$ref": "#/components/parameters/Id"
             }
            ]
           }
          },
          "/api/v1/boards": {
           "get": {
            "operationId": "listBoards",
            "summary": "Boards you are a member of.",
            "responses": {
             "200": {
              "description": "OK",
              "content": {
               "application/json": {
                "schema": {
                 "type": "array",
                 "items": {
                  "$ref": "#/components/schemas/Board"
                 }
                }
               }
              }
             },
             "401": {
              "$ref": "#/components/responses/Unauthenticated"
             }
            },
            "tags": [
             "boards"
            ]
           },
           "post": {
            "operationId": "createBoard",
            "summary": "Create a board with the default columns (Supervisor); you become its first member.",
            "responses": {
             "201": {
              "description": "Created.",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Board"
                }
               }
              }
             },
             "400": {
              "$ref": "#/components/responses/BadRequest"
             },
             "401": {
              "$ref": "#/components/responses/Unauthenticated"
             },
             "403": {
              "$ref": "#/components/responses/Forbidden"
             },
             "415": {
              "$ref": "#/components/responses/UnsupportedMediaType"
             }
            },
            "tags": [
             "boards"
            ],
            "requestBody": {
             "required": true,
             "content": {
              "application/json": {
               "schema": {
                "$ref": "#/components/schemas/CreateBoardRequest"
               }
              }
             }
            }
           }
          },
          "/api/v1/boards/{id}": {
           "get": {
            "operationId": "getBoard",
            "summary": "A board with its ordered columns.",
            "responses": {
             "200": {
              "description": "OK",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Board"
                }
               }
              }
             },
             "401": {
              "$ref": "#/components/responses/Unauthenticated"
             },
             "404": {
              "$ref": "#/components/responses/NotFound"
             }
            },
            "tags": [
             "boards"
            ],
            "parameters": [
             {
              "$ref": "#/components/parameters/Id"
             }
            ]
           }
          },
          "/api/v1/boards/{id}/members": {
           "get": {
            "operationId": "listMembers",
            "summary": "The board's members.",
            "responses": {
             "200": {
              "description": "OK",
              "content": {
               "application/json": {
                "schema": {
                 "type": "array",
                 "items": {
                  "$ref": "#/components/schemas/User"
                 }
                }
               }
              }
             },
             "401": {
              "$ref": "#/components/responses/Unauthenticated"
             },
             "404": {
              "$ref": "#/components/responses/NotFound"
             }
            },
            "tags": [
             "boards"
            ],
            "parameters": [
             {
              "$ref": "#/components/parameters/Id"
             }
            ]
           },
           "post": {
            "operationId": "addMember",
            "summary": "Add a member (Supervisor member of the board).",
            "responses": {
             "204": {
              "description": "Added (or already a member)."
             },
             "400": {
              "$ref": "#/components/responses/BadRequest"
             },
             "401": {
              "$ref": "#/components/responses/Unauthenticated"
             },
             "403": {
              "$ref": "#/components/responses/Forbidden"
             },
             "404": {
              "$ref": "#/components/responses/NotFound"
             },
             "415": {
              "$ref": "#/components/responses/UnsupportedMediaType"
             }
            },
            "tags": [
             "boards"
            ],
            "requestBody": {
             "required": true,
             "content": {
              "application/json": {
               "schema": {
                "$ref": "#/components/schemas/AddMemberRequest"
               }
              }
             }
            },
            "parameters": [
             {
              "$ref": "#/components/parameters/Id"
             }
            ]
           }
          },
          "/api/v1/boards/{id}/members/{user_id}": {
           "delete": {
            "operationId": "removeMember",
            "summary": "Remove a member (Supervisor member of the board). Refused while tasks of the board are assigned to them, and for the board's last active Supervisor.",
            "responses": {
             "204": {
              "description": "Removed."
             },
             "401": {
              "$ref": "#/components/responses/Unauthenticated"
             },
             "403": {
              "$ref": "#/components/responses/Forbidden"
             },
             "404": {
              "$ref": "#/components/responses/NotFound"
             },
             "409": {
              "$ref": "#/components/responses/Conflict",
              "description": "Refused: member_has_tasks (reassign their tasks first) or last_supervisor."
             }
            },
            "tags": [
             "boards"
            ],
            "parameters": [
             {
              "$ref": "#/components/parameters/Id"
             },
             {
              "name": "user_id",
              "in": "path",
              "required": true,
              "description": "The member's user id.",
              "schema": {
               "type": "string",
               "format": "uuid"
              }
             }
            ]
           }
          },
          "/api/v1/boards/{id}/columns": {
           "post": {
            "operationId": "addColumn",
            "summary": "Add a column at the end of the board (Supervisor member of the board).",
            "responses": {
             "201": {
              "description": "Added.",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Column"
                }
               }
              }
             },
             "400": {
              "$ref": "#/components/responses/BadRequest"
             },
             "401": {
              "$ref": "#/components/responses/Unauthenticated"
             },
             "403": {
              "$ref": "#/components/responses/Forbidden"
             },
             "404": {
              "$ref": "#/components/responses/NotFound"
             },
             "409": {
              "$ref": "#/components/responses/Conflict",
              "description": "The board already has a column of this name (duplicate), or has the most columns it may (too_many_columns)."
             },
             "415": {
              "$ref": "#/components/responses/UnsupportedMediaType"
             }
            },
            "tags": [
             "boards"
            ],
            "requestBody": {
             "required": true,
             "content": {
              "application/json": {
               "schema": {
                "$ref": "#/components/schemas/NewColumnRequest"
               }
              }
             }
            },
            "parameters": [
             {
              "$ref": "#/components/parameters/Id"
             }
            ]
           }
          },
          "/api/v1/columns/{id}": {
           "patch": {
            "operationId": "updateColumn",
            "summary": "Rename a column, mark it as done or not, or move it to another position (Supervisor member of its board).",
            "responses": {
             "200": {
              "description": "The column as it is now.",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Column"
                }
               }
              }
             },
             "400": {
              "$ref": "#/components/responses/BadRequest"
             },
             "401": {
              "$ref": "#/components/responses/Unauthenticated"
             },
             "403": {
              "$ref": "#/components/responses/Forbidden"
             },
             "404": {
              "$ref": "#/components/responses/NotFound"
             },
             "409": {
              "$ref": "#/components/responses/Conflict",
              "description": "The board already has a column of this name (duplicate)."
             },
             "415": {
              "$ref": "#/components/responses/UnsupportedMediaType"
             }
            },
            "tags": [
             "boards"
            ],
            "requestBody": {
             "required": true,
             "content": {
              "application/json": {
               "schema": {
                "$ref": "#/components/schemas/ColumnChangesRequest"
               }
              }
             }
            },
            "parameters": [
             {
              "$ref": "#/components/parameters/Id"
             }
            ]
           },
           "delete": {
            "operationId": "deleteColumn",
            "summary": "Delete an empty column (Supervisor member of its board).",
            "responses": {
             "204": {
              "description": "Deleted."
             },
             "401": {
              "$ref": "#/components/responses/Unauthenticated"
             },
             "403": {
              "$ref": "#/components/responses/Forbidden"
             },
             "404": {
              "$ref": "#/components/responses/NotFound"
             },
             "409": {
              "$ref": "#/components/responses/Conflict",
              "description": "Refused: column_not_empty (move or delete its tasks first) or last_column."
             }
            },
            "tags": [
             "boards"
            ],
            "parameters": [
             {
              "$ref": "#/components/parameters/Id"
             }
            ]
           }
          },
          "/api/v1/boards/{id}/tasks": {
           "get": {
            "operationId": "listTasks",
            "summary": "The board's tasks in column and position order, filtered, one page at a time.",
            "responses": {
             "200": {
              "description": "OK",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/TaskPage"
                }
               }
              }
             },
             "400": {
              "$ref": "#/components/responses/BadRequest"
             },
             "401": {
              "$ref": "#/components/responses/Unauthenticated"
             },
             "404": {
              "$ref": "#/components/responses/NotFound"
             }
            },
            "tags": [
             "tasks"
            ],
            "parameters": [
             {
              "$ref": "#/components/parameters/Id"
             },
             {
              "name": "assignee",
              "in": "query",
              "description": "A user id, or me.",
              "schema": {
               "type": "string",
               "maxLength": 36
              }
             },
             {
              "name": "column",
              "in": "query",
              "schema": {
               "type": "string",
               "maxLength": 36
              }
             },
             {
              "name": "label",
              "in": "query",
              "schema": {
               "type": "string",
               "maxLength": 40
              }
             },
             {
              "name": "q",
              "in": "query",
              "description": "Case-insensitive text in the title or content.",
              "schema": {
               "type": "string",
               "maxLength": 200
              }
             },
             {
              "name": "due_before",
              "in": "query",
              "schema": {
               "type": "string",
               "format": "date-time"
              }
             },
             {
              "name": "overdue",
              "in": "query",
              "description": "Only tasks past due and not in a done column.",
              "schema": {
               "type": "boolean"
              }
             },
             {
              "name": "limit",
              "in": "query",
              "schema": {
               "type": "integer",
               "minimum": 1,
               "maximum": 200,
               "default": 100
              }
             },
             {
              "name": "cursor",
              "in": "query",
              "description": "next_cursor of the previous page.",
              "schema": {
               "type": "string",
               "maxLength": 200
              }
             }
            ]
           },
           "post": {
            "operationId": "createTask",
            "summary": "Create a task (Supervisor member); without column_id it goes to the first column.",
            "responses": {
             "201": {
              "description": "Created.",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Task"
                }
               }
              },
              "headers": {
               "ETag": {
                "description": "The task's version as an entity tag, for If-Match.",
                "schema": {
                 "type": "string"
                }
               }
              }
             },
             "400": {
              "$ref": "#/components/responses/BadRequest"
             },
             "401": {
              "$ref": "#/components/responses/Unauthenticated"
             },
             "403": {
              "$ref": "#/components/responses/Forbidden"
             },
             "404": {
              "$ref": "#/components/responses/NotFound"
             },
             "415": {
              "$ref": "#/components/responses/UnsupportedMediaType"
             }
            },
            "tags": [
             "tasks"
            ],
            "requestBody": {
             "required": true,
             "content": {
              "application/json": {
               "schema": {
                "$ref": "#/components/schemas/CreateTaskRequest"
               }
              }
             }
            },
            "parameters": [
             {
              "$ref": "#/components/parameters/Id"
             }
            ]
           }
          },
          "/api/v1/tasks/{id}": {
           "get": {
            "operationId": "getTask",
            "summary": "A task.",
            "responses": {
             "200": {
              "description": "OK",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Task"
                }
               }
              },
              "headers": {
               "ETag": {
                "description": "The task's version as an entity tag, for If-Match.",
                "schema": {
                 "type": "string"
                }
               }
              }
             },
             "401": {
              "$ref": "#/components/responses/Unauthenticated"
             },
             "404": {
              "$ref": "#/components/responses/NotFound"
             }
            },
            "tags": [
             "tasks"
            ],
            "parameters": [
             {
              "$ref": "#/components/parameters/Id"
             }
            ]
           },
           "patch": {
            "operationId": "updateTask",
            "summary": "Change a task. Requires If-Match or a version field; a stale version gets 409 with the current task.",
            "responses": {
             "200": {
              "description": "OK",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Task"
                }
               }
              },
              "headers": {
               "ETag": {
                "description": "The task's version as an entity tag, for If-Match.",
                "schema": {
                 "type": "string"
                }
               }
              }
             },
             "400": {
              "$ref": "#/components/responses/BadRequest"
             },
             "401": {
              "$ref": "#/components/responses/Unauthenticated"
             },
             "403": {
              "$ref": "#/components/responses/Forbidden"
             },
             "404": {
              "$ref": "#/components/responses/NotFound"
             },
             "409": {
              "$ref": "#/components/responses/Conflict"
             },
             "415": {
              "$ref": "#/components/responses/UnsupportedMediaType"
             },
             "428": {
              "$ref": "#/components/responses/VersionRequired"
             }
            },
            "description": "A Supervisor may change every field; a PIC only column_id and content of a task assigned to them. null clears assignee_id, due_at and due_time_zone.",
            "tags": [
             "tasks"
            ],
            "requestBody": {
             "required": true,
             "content": {
              "application/json": {
               "schema": {
                "$ref": "#/components/schemas/UpdateTaskRequest"
               }
              }
             }
            },
            "parameters": [
             {
              "$ref": "#/components/parameters/Id"
             },
             {
              "name": "If-Match",
              "in": "header",
              "schema": {
               "type": "string"
              },
              "description": "The ETag of the task as last seen."
             }
            ]
           },
           "delete": {
            "operationId": "deleteTask",
            "summary": "Delete a task (Supervisor member).",
            "responses": {
             "204": {
              "description": "Deleted."
             },
             "401": {
              "$ref": "#/components/responses/Unauthenticated"
             },
             "403": {
              "$ref": "#/components/responses/Forbidden"
             },
             "404": {
              "$ref": "#/components/responses/NotFound"
             }
            },
            "tags": [
             "tasks"
            ],
            "parameters": [
             {
              "$ref": "#/components/parameters/Id"
             }
            ]
           }
          },
          "/api/v1/tasks/{id}/move": {
           "post": {
            "operationId": "moveTask",
            "summary": "Move a task to a column, optionally between two neighbours.",
            "responses": {
             "200": {
              "description": "OK",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Task"
                }
               }
              },
              "headers": {
               "ETag": {
                "description": "The task's version as an entity tag, for If-Match.",
                "schema": {
                 "type": "string"
                }
               }
              }
             },
             "400": {
              "$ref": "#/components/responses/BadRequest"
             },
             "401": {
              "$ref": "#/components/responses/Unauthenticated"
             },
             "403": {
              "$ref": "#/components/responses/Forbidden"
             },
             "404": {
              "$ref": "#/components/responses/NotFound"
             },
             "409": {
              "$ref": "#/components/responses/Conflict"
             },
             "415": {
              "$ref": "#/components/responses/UnsupportedMediaType"
             }
            },
            "tags": [
             "tasks"
            ],
            "requestBody": {
             "required": true,
             "content": {
              "application/json": {
               "schema": {
                "$ref": "#/components/schemas/MoveTaskRequest"
               }
              }
             }
            },
            "parameters": [
             {
              "$ref": "#/components/parameters/Id"
             },
             {
              "name": "If-Match",
              "in": "header",
              "schema": {
               "type": "string"
              }
             }
            ]
           }
          },
          "/api/v1/tasks/{id}/comments": {
           "get": {
            "operationId": "listComments",
            "summary": "A task's comments, oldest first.",
            "responses": {
             "200": {
              "description": "OK",
              "content": {
               "application/json": {
                "schema": {
                 "type": "array",
                 "items": {
                  "$ref": "#/components/schemas/Comment"
                 }
                }
               }
              }
             },
             "401": {
              "$ref": "#/components/responses/Unauthenticated"
             },
             "404": {
              "$ref": "#/components/responses/NotFound"
             }
            },
            "tags": [
             "tasks"
            ],
            "parameters": [
             {
              "$ref": "#/components/parameters/Id"
             }
            ]
           },
           "post": {
            "operationId": "addComment",
            "summary": "Comment on a task (any member).",
            "responses": {
             "201": {
              "description": "Created.",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Comment"
                }
               }
              }
             },
             "400": {
              "$ref": "#/components/responses/BadRequest"
             },
             "401": {
              "$ref": "#/components/responses/Unauthenticated"
             },
             "404": {
              "$ref": "#/components/responses/NotFound"
             },
             "415": {
              "$ref": "#/components/responses/UnsupportedMediaType"
             }
            },
            "tags": [
             "tasks"
            ],
            "requestBody": {
             "required": true,
             "content": {
              "application/json": {
               "schema": {
                "$ref": "#/components/schemas/CreateCommentRequest"
               }
              }
             }
            },
            "parameters": [
             {
              "$ref": "#/components/parameters/Id"
             }
            ]
           }
          },
          "/api/v1/tasks/{id}/history": {
           "get": {
            "operationId": "taskHistory",
            "summary": "Every recorded change of a task: who changed which field from what to what, and when.",
            "responses": {
             "200": {
              "description": "OK",
              "content": {
               "application/json": {
                "schema": {
                 "type": "array",
                 "items": {
                  "$ref": "#/components/schemas/HistoryEvent"
                 }
                }
               }
              }
             },
             "401": {
              "$ref": "#/components/responses/Unauthenticated"
             },
             "404": {
              "$ref": "#/components/responses/NotFound"
             }
            },
            "tags": [
             "tasks"
            ],
            "parameters": [
             {
              "$ref": "#/components/parameters/Id"
             }
            ]
           }
          }
         },
         "components": {
          "securitySchemes": {
           "bearer": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "PASETO v4.public"
           },
           "cookie": {
            "type": "apiKey",
            "in": "cookie",
            "name": "pier_access"
           }
          },
          "parameters": {
           "Id": {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
             "type": "string",
             "format": "uuid"
            }
           }
          },
          "schemas": {
           "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details.",
            "properties": {
             "type": {
              "type": "string"
             },
             "title": {
              "type": "string"
             },
             "status": {
              "type": "integer"
             },
             "code": {
              "type": "string",
              "description": "Stable machine-readable code."
             },
             "detail": {
              "type": "string"
             },
             "request_id": {
              "type": "string"
             },
             "field": {
              "type": "string"
             },
             "parameter": {
              "type": "string"
             },
             "current_version": {
              "type": "integer"
             },
             "current_task": {
              "$ref": "#/components/schemas/Task"
             },
             "retry_after": {
              "type": "integer"
             }
            },
            "required": [
             "type",
             "title",
             "status",
             "code"
            ]
           },
           "User": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
             "id": {
              "type": "string",
              "maxLength": 36
             },
             "email": {
              "type": "string",
              "format": "email"
             },
             "name": {
              "type": "string"
             },
             "role": {
              "enum": [
               "supervisor",
               "pic"
              ]
             },
             "disabled": {
              "type": "boolean"
             },
             "created_at": {
              "type": "string",
              "format": "date-time"
             }
            },
            "required": [
             "id",
             "email",
             "name",
             "role",
             "disabled",
             "created_at"
            ]
           },
           "CreatedUser": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
             "user": {
              "$ref": "#/components/schemas/User"
             },
             "password": {
              "type": "string",
              "description": "The generated password, only when none was given."
             }
            },
            "required": [
             "user"
            ]
           },
           "Password": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
             "password": {
              "type": "string"
             }
            },
            "required": [
             "password"
            ]
           },
           "Tokens": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
             "access_token": {
              "type": "string",
              "description": "PASETO v4.public, 15 minutes."
             },
             "refresh_token": {
              "type": "string"
             },
             "token_type": {
              "const": "Bearer"
             },
             "expires_in": {
              "type": "integer"
             },
             "user": {
              "$ref": "#/components/schemas/User"
             }
            },
            "required": [
             "access_token",
             "refresh_token",
             "token_type",
             "expires_in",
             "user"
            ]
           },
           "Column": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
             "id": {
              "type": "string",
              "maxLength": 36
             },
             "name": {
              "type": "string"
             },
             "position": {
              "type": "integer"
             },
             "is_done": {
              "type": "boolean"
             }
            },
            "required": [
             "id",
             "name",
             "position",
             "is_done"
            ]
           },
           "Board": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
             "id": {
              "type": "string",
              "maxLength": 36
             },
             "name": {
              "type": "string"
             },
             "created_by": {
              "type": "string",
              "maxLength": 36
             },
             "created_at": {
              "type": "string",
              "format": "date-time"
             },
             "columns": {
              "type": "array",
              "items": {
               "$ref": "#/components/schemas/Column"
              }
             }
            },
            "required": [
             "id",
             "name",
             "created_by",
             "created_at",
             "columns"
            ]
           },
           "Task": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
             "id": {
              "type": "string",
              "maxLength": 36
             },
             "board_id": {
              "type": "string",
              "maxLength": 36
             },
             "column_id": {
              "type": "string",
              "maxLength": 36
             },
             "title": {
              "type": "string"
             },
             "content": {
              "type": "string",
              "description": "Markdown."
             },
             "assignee_id": {
              "type": [
               "string",
               "null"
              ]
             },
             "due_at": {
              "type": [
               "string",
               "null"
              ],
              "format": "date-time"
             },
             "due_time_zone": {
              "type": [
               "string",
               "null"
              ]
             },
             "labels": {
              "type": "array",
              "items": {
               "type": "string"
              }
             },
             "position": {
              "type": "number"
             },
             "version": {
              "type": "integer"
             },
             "created_by": {
              "type": "string",
              "maxLength": 36
             },
             "created_at": {
              "type": "string",
              "format": "date-time"
             },
             "updated_at": {
              "type": "string",
              "format": "date-time"
             }
            },
            "required": [
             "id",
             "board_id",
             "column_id",
             "title",
             "content",
             "assignee_id",
             "due_at",
             "due_time_zone",
             "labels",
             "position",
             "version",
             "created_by",
             "created_at",
             "updated_at"
            ]
           },
           "TaskPage": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
             "tasks": {
              "type": "array",
              "items": {
               "$ref": "#/components/schemas/Task"
              }
             },
             "next_cursor": {
              "type": [
               "string",
               "null"
              ]
             }
            },
            "required": [
             "tasks",
             "next_cursor"
            ]
           },
           "Comment": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
             "id": {
              "type": "string",
              "maxLength": 36
             },
             "task_id": {
              "type": "string",
              "maxLength": 36
             },
             "author_id": {
              "type": "string",
              "maxLength": 36
             },
             "body": {
              "type": "string"
             },
             "created_at": {
              "type": "string",
              "format": "date-time"
             }
            },
            "required": [
             "id",
             "task_id",
             "author_id",
             "body",
             "created_at"
            ]
           },
           "HistoryEvent": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
             "id": {
              "type": "string",
              "maxLength": 36
             },
             "task_id": {
              "type": [
               "string",
               "null"
              ]
             },
             "actor_id": {
              "type": "string",
              "maxLength": 36
             },
             "action": {
              "type": "string",
              "description": "task.created, task.updated, task.moved, comment.added, …"
             },
             "field": {
              "type": [
               "string",
               "null"
              ]
             },
             "old_value": {
              "type": [
               "string",
               "null"
              ]
             },
             "new_value": {
              "type": [
               "string",
               "null"
              ]
             },
             "at": {
              "type": "string",
              "format": "date-time"
             }
            },
            "required": [
             "id",
             "task_id",
             "actor_id",
             "action",
             "field",
             "old_value",
             "new_value",
             "at"
            ]
           },
           "LoginRequest": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
             "email": {
              "type": "string",
              "maxLength": 254
             },
             "password": {
              "type": "string",
              "maxLength": 1024
             }
            },
            "required": [
             "email",
             "password"
            ]
           },
           "RefreshRequest": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
             "refresh_token": {
              "type": "string",
              "maxLength": 512
             }
            },
            "required": []
           },
           "ChangePasswordRequest": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
             "current_password": {
              "type": "string",
              "maxLength": 1024
             },
             "new_password": {
              "type": "string",
              "minLength": 10,
              "maxLength": 72
             }
            },
            "required": [
             "current_password",
             "new_password"
            ]
           },
           "CreateUserRequest": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
             "email": {
              "type": "string",
              "maxLength": 254
             },
             "name": {
              "type": "string",
              "maxLength": 100
             },
             "role": {
              "enum": [
               "supervisor",
               "pic"
              ]
             },
             "password": {
              "type": "string",
              "minLength": 10,
              "maxLength": 72
             }
            },
            "required": [
             "email",
             "name",
             "role"
            ]
           },
           "UpdateUserRequest": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
             "disabled": {
              "type": "boolean"
             }
            },
            "required": [
             "disabled"
            ]
           },
           "ResetPasswordRequest": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
             "password": {
              "type": "string",
              "minLength": 10,
              "maxLength": 72
             }
            },
            "required": []
           },
           "CreateBoardRequest": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
             "name": {
              "type": "string",
              "minLength": 1,
              "maxLength": 100
             }
            },
            "required": [
             "name"
            ]
           },
           "NewColumnRequest": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
             "name": {
              "type": "string",
              "minLength": 1,
              "maxLength": 50
             },
             "is_done": {
              "type": "boolean",
              "description": "Tasks in this column count as finished (never overdue). Default false."
             }
            },
            "required": [
             "name"
            ]
           },
           "ColumnChangesRequest": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
             "name": {
              "type": "string",
              "minLength": 1,
              "maxLength": 50
             },
             "is_done": {
              "type": "boolean"
             },
             "position": {
              "type": "integer",
              "minimum": 0,
              "maximum": 19,
              "description": "The column's new place, 0 first; the other columns shift. Past the end means last."
             }
            }
           },
           "AddMemberRequest": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
             "user_id": {
              "type": "string",
              "maxLength": 36
             }
            },
            "required": [
             "user_id"
            ]
           },
           "CreateTaskRequest": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
             "title": {
              "type": "string",
              "minLength": 1,
              "maxLength": 200
             },
             "content": {
              "type": "string",
              "maxLength": 50000
             },
             "column_id": {
              "type": "string",
              "maxLength": 36
             },
             "assignee_id": {
              "type": [
               "string",
               "null"
              ]
             },
             "due_at": {
              "type": [
               "string",
               "null"
              ],
              "format": "date-time"
             },
             "due_time_zone": {
              "type": [
               "string",
               "null"
              ],
              "description": "IANA time zone, such as Asia/Seoul."
             },
             "labels": {
              "type": "array",
              "maxItems": 20,
              "items": {
               "type": "string",
               "minLength": 1,
               "maxLength": 40
              }
             }
            },
            "required": [
             "title"
            ]
           },
           "UpdateTaskRequest": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
             "title": {
              "type": "string",
              "minLength": 1,
              "maxLength": 200
             },
             "content": {
              "type": "string",
              "maxLength": 50000
             },
             "column_id": {
              "type": "string",
              "maxLength": 36
             },
             "assignee_id": {
              "type": [
               "string",
               "null"
              ]
             },
             "due_at": {
              "type": [
               "string",
               "null"
              ],
              "format": "date-time"
             },
             "due_time_zone": {
              "type": [
               "string",
               "null"
              ]
             },
             "labels": {
              "type": "array",
              "maxItems": 20,
              "items": {
               "type": "string",
               "minLength": 1,
               "maxLength": 40
              }
             },
             "version": {
              "type": "integer",
              "minimum": 0
             }
            },
            "required": []
           },
           "MoveTaskRequest": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
             "column_id": {
              "type": "string",
              "maxLength": 36
             },
             "after_id": {
              "type": [
               "string",
               "null"
              ]
             },
             "before_id": {
              "type": [
               "string",
               "null"
              ]
             },
             "version": {
              "type": "integer",
              "minimum": 0
             }
            },
            "required": [
             "column_id"
            ]
           },
           "CreateCommentRequest": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
             "body": {
              "type": "string",
              "minLength": 1,
              "maxLength": 10000
             }
            },
            "required": [
             "body"
            ]
           }
          },
          "responses": {
           "BadRequest": {
            "description": "The request is malformed or a field is invalid (codes: malformed_json, unknown_field, missing_field, invalid_field, invalid_parameter, unknown_parameter, invalid_request, invalid_if_match).",
            "content": {
             "application/problem+json": {
              "schema": {
               "$ref": "#/components/schemas/Problem"
              }
             }
            }
           },
           "Unauthenticated": {
            "description": "No valid access token (codes: unauthenticated, token_expired, invalid_credentials, invalid_refresh_token, refresh_token_reused).",
            "content": {
             "application/problem+json": {
              "schema": {
               "$ref": "#/components/schemas/Problem"
              }
             }
            }
           },
           "Forbidden": {
            "description": "Signed in but not allowed (codes: forbidden, origin_required, origin_refused, invalid_credentials for a wrong current password).",
            "content": {
             "application/problem+json": {
              "schema": {
               "$ref": "#/components/schemas/Problem"
              }
             }
            }
           },
           "NotFound": {
            "description": "No such resource, or one you are not a member of (code: not_found).",
            "content": {
             "application/problem+json": {
              "schema": {
               "$ref": "#/components/schemas/Problem"
              }
             }
            }
           },
           "Conflict": {
            "description": "A stale version (version_conflict, with current_version and current_task), a duplicate, cannot_disable_self, or a change a rule of the board refuses (member_has_tasks, last_supervisor, column_not_empty, last_column, too_many_columns).",
            "content": {
             "application/problem+json": {
              "schema": {
               "$ref": "#/components/schemas/Problem"
              }
             }
            }
           },
           "TooLarge": {
            "description": "The body is larger than 256 KiB (code: body_too_large).",
            "content": {
             "application/problem+json": {
              "schema": {
               "$ref": "#/components/schemas/Problem"
              }
             }
            }
           },
           "UnsupportedMediaType": {
            "description": "The body is not application/json (code: unsupported_media_type).",
            "content": {
             "application/problem+json": {
              "schema": {
               "$ref": "#/components/schemas/Problem"
              }
             }
            }
           },
           "VersionRequired": {
            "description": "Neither If-Match nor a version field was sent (code: version_required).",
            "content": {
             "application/problem+json": {
              "schema": {
               "$ref": "#/components/schemas/Problem"
              }
             }
            }
           },
           "TooManyAttempts": {
            "description": "Too many failed sign-ins (code: too_many_attempts); see Retry-After.",
            "content": {
             "application/problem+json": {
              "schema": {
               "$ref": "#/components/schemas/Problem"
              }
             }
            }
           },
           "NotReady": {
            "description": "The database is unreachable or not migrated (code: not_ready).",
            "content": {
             "application/problem+json": {
              "schema": {
               "$ref": "#/components/schemas/Problem"
              }
             }
            }
           }
          }
         }
        }
        """#
}
